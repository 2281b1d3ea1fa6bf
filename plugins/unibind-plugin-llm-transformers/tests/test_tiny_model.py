"""Generation on a tiny Llama that memorised a few (simulated) dog lists: seeding, batching, resume."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from unibind.errors import InputError
from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected
from unibind_plugin_llm_transformers.loading import load_causal_lm
from unibind_plugin_llm_transformers.settings import LLMSettings
from unibind_plugin_llm_transformers.source import TransformersSource

DOG = ClassRef(name="dog")


def _source(tiny_settings: dict, **changes) -> TransformersSource:
    return TransformersSource(LLMSettings(**{**tiny_settings, **changes}))


def test_every_batch_has_a_fixed_number_of_items_and_the_counts_add_up(tiny_settings: dict) -> None:
    source = _source(tiny_settings, max_tries=2)
    items = list(source.describe(DOG, 3))
    assert len(items) == 6 == source.items_per_batch  # 2 tries x 3 wanted = 6 candidates = one batch
    counts = Counter(i.reason if isinstance(i, Rejected) else "kept" for i in items)
    assert sum(counts.values()) == len(items) and counts["kept"] >= 1
    for item in items:
        if isinstance(item, DescriptionDraft):
            assert item.prompt.endswith("Short descriptions of a dog:\n1.")


def test_the_filter_rejects_what_a_random_model_writes(tiny_settings: dict) -> None:
    """Only the class-naming, sentence-shaped lines survive; with a foreign class nothing does."""
    source = _source(tiny_settings)
    items = list(itertools.islice(source.describe(ClassRef(name="zebu"), 4), 12))
    assert items and all(isinstance(i, Rejected) for i in items)
    assert set(Counter(i.reason for i in items)) <= {"off_class", "truncated", "repeated", "empty",
                                                     "too_short", "not_english"}


def test_seeds_change_the_samples_and_batches_differ(tiny_settings: dict) -> None:
    source = _source(tiny_settings, temperature=1.5)
    first, second = source.batch(DOG, 0, 0), source.batch(DOG, 0, 1)
    assert first == source.batch(DOG, 0, 0)
    other_seed = source.batch(DOG, 1, 0)
    assert [i.model_dump() for i in first] != [i.model_dump() for i in second] or \
        [i.model_dump() for i in first] != [i.model_dump() for i in other_seed]


def test_the_model_is_loaded_once_per_process(tiny_settings: dict) -> None:
    source = _source(tiny_settings)
    source.batch(DOG, 0, 0)
    before = load_causal_lm.cache_info()
    _source(tiny_settings).batch(DOG, 0, 1)
    after = load_causal_lm.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def test_a_missing_model_directory_is_a_clear_error(tmp_path) -> None:
    missing = tmp_path / "no-model"
    with pytest.raises(InputError, match="no such model directory") as info:
        list(TransformersSource(LLMSettings(model=str(missing), imagenet=False)).describe(DOG, 1))
    assert str(missing) in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        load_causal_lm(str(tmp_path / "empty"))
    with pytest.raises(InputError, match="no such GGUF file"):
        load_causal_lm(str(tmp_path / "empty"), "model.gguf")


def test_the_shared_prompt_cache_changes_nothing(tiny_settings: dict) -> None:
    """Greedy replies from the once-run prompt equal those of running the prompt for every row."""
    import torch

    from unibind_plugin_llm_transformers.generation import shared_prompt_cache

    lm, tokenizer = load_causal_lm(tiny_settings["model"])
    ids = tokenizer([_source(tiny_settings).prompt_for("dog")], return_tensors="pt")["input_ids"]
    kwargs = {"input_ids": ids.expand(2, -1), "attention_mask": torch.ones(2, ids.shape[1], dtype=torch.long),
              "do_sample": False, "max_new_tokens": 12, "pad_token_id": tokenizer.pad_token_id}
    with torch.inference_mode():
        plain = lm.generate(**kwargs)
        shared = lm.generate(**kwargs, past_key_values=shared_prompt_cache(lm, ids, 2))
    assert torch.equal(plain, shared)
