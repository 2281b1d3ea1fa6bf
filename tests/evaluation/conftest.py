"""Fixtures for the evaluation tests: a hashing text encoder (deterministic, no model) and a small KB."""

from __future__ import annotations

import pytest

from unibind.knowledge.builder import build_knowledge_base
from unibind.knowledge.records import ClassRef
from unibind.knowledge.store import KnowledgeBase
from unibind.knowledge.textcache import TextEmbedder
from unibind.plugins import reset_plugin_manager
from unibind.specs import DescriptionSourceSpec, EncoderSpec

CLASSES = [ClassRef(name="dog"), ClassRef(name="cat"), ClassRef(name="red_fox")]


@pytest.fixture
def registry(make_plugin, manager_with):
    def encoders(register):
        register(EncoderSpec(name="hashing", modality="text", default=True, priority=100,
                             factory="unibind.knowledge.testing:build_hashing_encoder",
                             settings="unibind.knowledge.testing:HashingSettings"))

    def sources(register):
        register(DescriptionSourceSpec(name="scripted", factory="unibind.knowledge.testing:ScriptedSource",
                                       settings="unibind.knowledge.testing:ScriptedSettings"))

    manager = manager_with({"fakes": make_plugin("fakes", unibind_encoders=encoders,
                                                 unibind_description_sources=sources)})
    reset_plugin_manager(manager)
    return manager.registry


@pytest.fixture
def kb_path(tmp_path, registry):
    path = tmp_path / "kb.sqlite"
    with KnowledgeBase(path) as store:
        build_knowledge_base(store, CLASSES, [("scripted", {"items": 30}), ("templates", None)], per_class=100,
                             modality="image", registry=registry)
    return path


@pytest.fixture
def embedder(tmp_path, registry):
    return TextEmbedder.from_registry("hashing", registry=registry, cache=tmp_path / "cache.sqlite")
