"""Hook implementations of the llm-openai plugin: registration only (httpx loads with the source)."""

from __future__ import annotations

from unibind import DescriptionSourceSpec, hookimpl

_PKG = "unibind_plugin_llm_openai"


@hookimpl
def unibind_description_sources(register):
    register(DescriptionSourceSpec(
        name="llm-openai", factory=f"{_PKG}.source:OpenAISource", settings=f"{_PKG}.settings:OpenAISettings",
        produces=("class_descriptions",), calls_service=True,
        summary="class descriptions from any OpenAI-compatible chat server (OpenAI, vLLM, Ollama, "
                "llama.cpp): JSON replies, bounded concurrency, retries with jitter, a request budget",
    ))


@hookimpl
def unibind_commands(cli):
    from unibind_plugin_llm_openai.commands import llm_openai

    cli.add_command(llm_openai)
