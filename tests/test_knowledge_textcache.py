"""The text-embedding cache: keyed by encoder identity, persistent, invalidated when the encoder changes."""

from __future__ import annotations

import pytest
import torch

from unibind.knowledge._hashing import HashingTextEncoder
from unibind.identity import files_identity, module_digest
from unibind.knowledge.textcache import TextEmbedder, TextEmbeddingCache
from unibind.specs import EncoderSpec


@pytest.fixture
def registry(make_plugin, manager_with):
    def encoders(register):
        register(EncoderSpec(name="hashing", modality="text",
                             factory="unibind.knowledge._hashing:HashingTextEncoder",
                             settings="unibind.knowledge.testing:HashingSettings"))

    return manager_with({"fakes": make_plugin("fakes", unibind_encoders=encoders)}).registry


def _embedder(registry, cache, **settings) -> TextEmbedder:
    from unibind.space import Space

    space = Space(registry=registry, text_encoder="hashing", settings={"hashing": settings} if settings else None)
    return TextEmbedder.from_space(space, cache=cache)


def test_second_embedding_encodes_nothing_and_returns_the_same_vectors(tmp_path, registry):
    texts = [f"a photo of dog number {i}" for i in range(1200)] + ["a photo of dog number 3"]  # one repeat
    before = HashingTextEncoder.encoded_total
    first = _embedder(registry, tmp_path / "cache.sqlite")
    vectors = first(texts)
    assert vectors.shape == (1201, 64) and first.encoded == 1200
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(1201))
    assert torch.equal(vectors[3], vectors[1200])
    again = _embedder(registry, tmp_path / "cache.sqlite")            # a new process would see the same file
    assert torch.equal(again(texts), vectors) and again.encoded == 0
    assert HashingTextEncoder.encoded_total - before == 1200
    mixed = again(["a photo of dog number 5", "a brand new text"])
    assert again.encoded == 1 and torch.equal(mixed[0], vectors[5])


def test_a_changed_encoder_invalidates_the_cache(tmp_path, registry):
    path = tmp_path / "cache.sqlite"
    base = _embedder(registry, path)
    base(["a dog", "a cat"])
    salted = _embedder(registry, path, salt="v2")
    wider = _embedder(registry, path, dim=32)
    assert len({base.hash, salted.hash, wider.hash}) == 3
    salted_vectors = salted(["a dog", "a cat"])
    assert salted.encoded == 2 and not torch.allclose(salted_vectors, base(["a dog", "a cat"]))
    assert wider(["a dog"]).shape == (1, 32) and wider.encoded == 1
    cache = TextEmbeddingCache(path)
    assert cache.count(base.hash) == 2 and cache.count() == 5
    assert cache.prune([base.hash]) == 3 and cache.count() == 2


def test_identity_covers_model_files_and_adapter_weights(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.safetensors").write_bytes(b"0" * 10)
    before = files_identity(model)
    (model / "weights.safetensors").write_bytes(b"0" * 11)
    assert files_identity(model) != before
    layer = torch.nn.Linear(4, 4)
    digest = module_digest(layer)
    with torch.no_grad():
        layer.weight[0, 0] += 1
    assert module_digest(layer) != digest
    assert module_digest(torch.nn.Identity()) is None


def test_no_cache_means_encoding_every_time(registry):
    embedder = _embedder(registry, False)
    embedder(["a dog"])
    embedder(["a dog"])
    assert embedder.encoded == 2
