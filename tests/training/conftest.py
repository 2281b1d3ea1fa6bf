"""Fixtures of the training tests: one torch thread (tiny ops on a shared 2-core machine), fake plugins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the synthetic plugin's lazy "training_fakes:..." specs
import training_fakes as fakes  # noqa: E402
from unibind.plugins import reset_plugin_manager


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture
def fake_registry(make_plugin, manager_with):
    """Core built-ins + the synthetic ``vec`` modality, counting encoder and hashing text encoder."""
    plugin = make_plugin("fakes", unibind_modalities=fakes.unibind_modalities,
                         unibind_encoders=fakes.unibind_encoders, unibind_adapters=fakes.unibind_adapters)
    manager = manager_with({"fakes": plugin})
    reset_plugin_manager(manager)
    return manager.registry
