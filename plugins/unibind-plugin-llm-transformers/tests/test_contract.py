"""The shared UniBind plugin contract, run against the llm-transformers plugin on a tiny local LM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from unibind.testing import PluginContract


@pytest.mark.slow  # the description-source check samples 15 batches from the tiny model (minutes on a busy CPU)
class TestContract(PluginContract):
    plugin = "llm-transformers"

    @pytest.fixture(autouse=True)
    def _context(self, tiny_settings: dict) -> None:
        self.tiny_settings = tiny_settings

    def source_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        assert name == "llm-transformers"
        return self.tiny_settings
