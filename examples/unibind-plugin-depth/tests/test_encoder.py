"""The depth-render encoder: it borrows an image encoder through the registry and tells shapes apart."""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from unibind.errors import NotRegisteredError, SettingsError
from unibind.plugins import get_registry
from unibind_plugin_depth.encoder import DepthRenderEncoder
from unibind_plugin_depth.loading import DepthModality
from unibind_plugin_depth.simulated import SHAPES, simulated_scene, write_png_mm


def test_takes_the_image_default_and_its_dimension(depth_encoder) -> None:
    image_default = get_registry().default("encoder", "image")
    assert DepthRenderEncoder.image_encoder_spec(None).name == image_default.name
    assert depth_encoder.dim == depth_encoder.image.dim > 0
    assert not any(p.requires_grad for p in depth_encoder.parameters())


def test_image_encoder_is_chosen_by_registered_name() -> None:
    with pytest.raises(NotRegisteredError, match="no encoder named 'no-such-encoder'"):
        DepthRenderEncoder.image_encoder_spec("no-such-encoder")
    with pytest.raises(SettingsError, match="'minilm' encodes 'text'"):
        DepthRenderEncoder.image_encoder_spec("minilm")


def test_encoding_is_the_image_encoder_on_the_rendering(depth_encoder) -> None:
    depth = DepthModality().to_metres(Path("scene"), simulated_scene("box", np.random.default_rng(3), 64))
    direct = depth_encoder.image.encode([depth_encoder.render(depth)])
    assert torch.allclose(depth_encoder.encode([depth]), direct, atol=1e-5)


def test_exposes_the_image_encoders_imagenet_head(depth_encoder) -> None:
    head = depth_encoder.image.imagenet_head()
    assert depth_encoder.imagenet_head() is head
    if head is not None:  # the default image encoder has one: the bridge adapter can reuse it
        assert head.in_features == depth_encoder.dim


class _HashTextEncoder:
    """A stand-in text encoder (16-d vectors seeded by the text), so the test loads no language model."""

    dim = 16
    source = "test-hash-text-encoder"

    def encode(self, texts):
        return torch.stack([torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(t.encode())))
                            for t in texts])


def test_the_image_bridge_adapter_accepts_depth_features(depth_encoder, tmp_path: Path, monkeypatch) -> None:
    """Zero-training depth in the text space: ``Space(adapters={"depth": "imagenet-bridge"})``."""
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path))  # the bridge caches class embeddings
    bridge_spec = get_registry().get("adapter", "imagenet-bridge")
    bridge = bridge_spec.build(encoder=depth_encoder, text_encoder=_HashTextEncoder())
    depth = DepthModality().to_metres(Path("scene"), simulated_scene("sphere", np.random.default_rng(4), 64))
    out = bridge(depth_encoder.encode([depth]))
    assert out.shape == (1, _HashTextEncoder.dim)
    assert torch.allclose(out.norm(dim=-1), torch.ones(1), atol=1e-5)


def _embed_simulated(depth_encoder, tmp_path: Path, per_class: int, seed: int):
    """Simulated scenes saved as 16-bit millimetre PNGs, loaded and embedded: the whole path."""
    rng = np.random.default_rng(seed)
    loader = DepthModality()
    samples, labels = [], []
    for i in range(per_class):
        for label, shape in enumerate(SHAPES):
            path = write_png_mm(tmp_path / f"{shape}-{seed}-{i}.depth.png", simulated_scene(shape, rng))
            samples.append(loader.load(path))
            labels.append(label)
    features = torch.nn.functional.normalize(depth_encoder.encode(samples), dim=-1)
    return features, torch.tensor(labels)


def test_simulated_shapes_are_nearest_neighbours_of_their_own_kind(depth_encoder, tmp_path: Path) -> None:
    """1-NN on simulated depth maps: sphere vs box vs cylinder before a wall, held-out scenes.

    Simulated data, not recordings. It shows that the rendering keeps shape
    information an ImageNet encoder can use with no training; it says nothing
    about accuracy on real sensor data.
    """
    start = time.perf_counter()
    reference, reference_labels = _embed_simulated(depth_encoder, tmp_path, per_class=12, seed=11)
    held_out, held_out_labels = _embed_simulated(depth_encoder, tmp_path, per_class=12, seed=12)
    nearest = (held_out @ reference.T).argmax(dim=1)
    accuracy = (reference_labels[nearest] == held_out_labels).float().mean().item()
    chance = 1 / len(SHAPES)
    print(f"\nsimulated depth scenes {SHAPES}: 1-NN accuracy on {len(held_out_labels)} held-out "
          f"= {accuracy:.3f} (chance {chance:.3f}); {time.perf_counter() - start:.1f} s")
    assert accuracy >= 0.6
