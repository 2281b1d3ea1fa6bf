"""The shared UniBind plugin contract, run against the llm-openai plugin and a loopback server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from unibind.knowledge.records import ClassRef, DescriptionDraft
from unibind.knowledge.sources import check_description_source
from unibind.testing import PluginContract
from unibind_plugin_llm_openai.source import OpenAISource


class TestContract(PluginContract):
    plugin = "llm-openai"

    @pytest.fixture(autouse=True)
    def _server(self, server) -> None:
        self.server = server

    def source_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        assert name == "llm-openai"
        return {"base_url": self.server.base_url, "model": "fake", "backoff_base": 0.001}

    def test_spec_says_it_calls_a_service(self, specs) -> None:
        (spec,) = specs
        assert spec.calls_service and spec.produces == ("class_descriptions",)


@pytest.mark.parametrize("per_request", [1, 3, 5])
def test_description_source_contract_for_several_request_sizes(server, settings, per_request: int) -> None:
    """Deterministic for a seed and resumable from any item, whatever the number of items per request."""
    with OpenAISource(settings(descriptions_per_request=per_request)) as source:
        items = check_description_source(source, ClassRef(name="golden_retriever"), n=6)
    drafts = [i for i in items if isinstance(i, DescriptionDraft)]
    assert drafts and all("golden retriever" in d.text.lower() for d in drafts)
