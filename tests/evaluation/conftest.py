"""Fixtures for the evaluation tests: a hashing text encoder (deterministic, no model) and a small KB."""

from __future__ import annotations

import pytest

from unibind.knowledge.builder import build_knowledge_base
from unibind.knowledge.records import ClassRef
from unibind.knowledge.store import KnowledgeBase
from unibind.knowledge.testing import scripted_source_spec
from unibind.knowledge.textcache import TextEmbedder

CLASSES = [ClassRef(name="dog"), ClassRef(name="cat"), ClassRef(name="red_fox")]


@pytest.fixture
def registry(fake_text_registry):
    return fake_text_registry(scripted_source_spec())


@pytest.fixture
def kb_path(tmp_path, registry):
    path = tmp_path / "kb.sqlite"
    with KnowledgeBase(path) as store:
        build_knowledge_base(store, CLASSES, [("scripted", {"items": 30}), ("templates", None)], per_class=100,
                             modality="image", registry=registry)
    return path


@pytest.fixture
def embedder(tmp_path, registry):
    from unibind.space import Space

    return TextEmbedder.from_space(Space(registry=registry, text_encoder="hashing"), cache=tmp_path / "cache.sqlite")
