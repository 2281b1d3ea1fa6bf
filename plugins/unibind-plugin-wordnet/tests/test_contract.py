"""The shared UniBind plugin contract, run against the WordNet plugin."""

from __future__ import annotations

import pytest

from unibind.knowledge.records import ClassRef, DescriptionDraft
from unibind.knowledge.sources import check_description_source
from unibind.testing import PluginContract


class TestContract(PluginContract):
    plugin = "wordnet"


@pytest.mark.parametrize("cls", [ClassRef(name="dog", class_id="n02084071"), ClassRef(name="T-shirt/top"),
                                 ClassRef(name="ankle boot"), ClassRef(name="crane")])
def test_source_contract_on_names_and_ids(source, cls: ClassRef) -> None:
    items = check_description_source(source, cls, n=5)
    assert all(isinstance(i, DescriptionDraft) for i in items), "a resolvable class yields drafts only"
    assert all(i.meta["relation"] and i.meta["synset_id"].startswith("n") for i in items)


def test_source_contract_with_fewer_relations(source) -> None:
    from unibind_plugin_wordnet.source import WordNetSource
    from unibind_plugin_wordnet.settings import WordNetSettings

    narrow = WordNetSource(WordNetSettings(relations=["hyponyms", "gloss"], max_hyponyms=5))
    items = check_description_source(narrow, n=3)
    assert {i.meta["relation"] for i in items} == {"hyponyms", "gloss"}
