"""The embedded default for real: the packaged Gemma-3-270M GGUF writes descriptions of a dog."""

from __future__ import annotations

import pytest

from unibind.knowledge.filters import mentions
from unibind.knowledge.records import ClassRef, DescriptionDraft
from unibind_plugin_llm_transformers.settings import LLMSettings
from unibind_plugin_llm_transformers.source import TransformersSource


@pytest.mark.slow
def test_packaged_gemma_describes_a_dog() -> None:
    source = TransformersSource(LLMSettings(batch_size=4, max_tries=1))
    items = source.batch(ClassRef(name="dog"), 0, 0)
    assert len(items) == 4 * source.settings.items_per_reply
    kept = [i for i in items if isinstance(i, DescriptionDraft)]
    assert kept, [i.model_dump() for i in items]
    assert all(mentions(d.text, "dog") for d in kept)
    assert source.model.startswith("gemma-3-270m-q4_k_m.gguf")
