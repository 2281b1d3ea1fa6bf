"""The thermal encoders: they borrow image encoders through the registry and tell simulated scenes apart."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unibind.errors import NotRegisteredError, SettingsError
from unibind.plugins import get_registry
from unibind_plugin_thermal.colormap import apply_colormap
from unibind_plugin_thermal.encoders import ThermalImageEncoder
from unibind_plugin_thermal.frame import ThermalFrame
from unibind_plugin_thermal.loading import ThermalModality
from unibind_plugin_thermal.normalise import to_unit
from unibind_plugin_thermal.settings import ThermalImageSettings, ThermalLoadSettings
from unibind_plugin_thermal.simulated import CLASSES, simulated_counts, write_png16


def _frame(counts: np.ndarray) -> ThermalFrame:
    return ThermalFrame(counts, "counts", 16, (0.01, 0.0))


def test_default_is_thermal_image_on_the_image_default(thermal_encoder) -> None:
    registry = get_registry()
    assert registry.default("encoder", "thermal").name == "thermal-image"
    assert ThermalImageEncoder.image_encoder_spec(None).name == registry.default("encoder", "image").name
    assert thermal_encoder.dim == thermal_encoder.image.dim > 0
    assert not any(p.requires_grad for p in thermal_encoder.parameters())


def test_image_encoder_is_chosen_by_registered_name() -> None:
    with pytest.raises(NotRegisteredError, match="no encoder named 'no-such-encoder'"):
        ThermalImageEncoder.image_encoder_spec("no-such-encoder")
    with pytest.raises(SettingsError, match="'minilm' encodes 'text'"):
        ThermalImageEncoder.image_encoder_spec("minilm")


def test_exposes_the_image_encoders_imagenet_head(thermal_encoder) -> None:
    head = thermal_encoder.image.imagenet_head()
    assert head is not None and head.out_features == 1000  # the default image encoder has one
    assert thermal_encoder.imagenet_head() is head
    assert head.in_features == thermal_encoder.dim


def test_imagebind_input_is_the_float_transform_and_the_image_forward(thermal_encoder, person_counts) -> None:
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    frame = _frame(person_counts)
    x = thermal_encoder.preprocess(frame)
    # ImageBind's thermal transform, written with torchvision (not with the code under test):
    # Resize(224, bicubic) of the short side, CenterCrop(224), Normalize(0.5, 0.5), grey replicated to RGB
    unit = torch.from_numpy(to_unit(frame))[None]
    resized = TF.resize(unit, 224, interpolation=InterpolationMode.BICUBIC, antialias=True)
    want = TF.normalize(TF.center_crop(resized, 224).clamp(0, 1), [0.5], [0.5]).expand(3, -1, -1)
    assert x.shape == (3, 224, 224)
    assert torch.allclose(x, want, atol=1e-5)
    direct = thermal_encoder.image(x[None])
    assert torch.allclose(thermal_encoder.encode([frame]), direct, atol=1e-5)


def test_encoder_input_is_the_image_encoder_on_the_rendering(thermal_encoder, person_counts) -> None:
    from unibind_plugin_thermal.encoders import build_thermal_image

    encoder = build_thermal_image(ThermalImageSettings(input_norm="encoder"), image_encoder=thermal_encoder.image)
    frame = _frame(person_counts)
    direct = encoder.image.encode([encoder.render(frame)])
    assert torch.allclose(encoder.encode([frame]), direct, atol=1e-5)
    assert torch.allclose(encoder.encode([person_counts]), direct, atol=1e-5)  # a bare uint16 array works too


def test_hf_thermal_is_the_hf_vision_encoder_on_the_rendering(tiny_clip_dir: Path, person_counts) -> None:
    registry = get_registry()
    encoder = registry.get("encoder", "hf-thermal").build({"model": str(tiny_clip_dir)})
    vision = registry.get("encoder", "hf-vision").build({"model": str(tiny_clip_dir)})
    frame = _frame(person_counts)
    out = encoder.encode([frame, frame])
    assert out.shape == (2, 24) and encoder.dim == 24
    assert torch.allclose(out.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(out[:1], vision.encode([encoder.render(frame)]), atol=1e-5)
    assert encoder.imagenet_head() is None  # CLIP has no ImageNet classifier: use its text side or an adapter


def test_the_imagenet_bridge_carries_thermal_into_the_text_space(thermal_encoder, fake_text_encoder,
                                                                 tiny_clip_dir: Path, person_counts) -> None:
    """No thermal adapter is registered: the core picks the image plugin's bridge because the encoder has a head."""
    from unibind.space import Space

    registry = get_registry()
    assert not [s for s in registry.by_plugin("thermal") if s.kind == "adapter"]
    space = Space(registry=registry)
    assert space._pick_adapter("thermal", thermal_encoder).name == "imagenet-bridge"
    hf = registry.get("encoder", "hf-thermal").build({"model": str(tiny_clip_dir)})
    with pytest.raises(NotRegisteredError, match="no default adapter fits the thermal encoder"):
        space._pick_adapter("thermal", hf)  # CLIP features need a trained adapter, named explicitly

    bridge = registry.get("adapter", "imagenet-bridge").build(
        encoder=thermal_encoder, text_encoder=fake_text_encoder, in_dim=thermal_encoder.dim,
        out_dim=fake_text_encoder.dim)
    out = bridge(thermal_encoder.encode([_frame(person_counts)]))
    assert out.shape == (1, fake_text_encoder.dim)
    assert torch.allclose(out.norm(dim=-1), torch.ones(1), atol=1e-5)


def test_inverting_the_colour_map_recovers_what_the_encoder_saw(thermal_encoder, person_counts, tmp_path) -> None:
    """An inferno rendering of a simulated frame: inverted, it embeds like the 16-bit original."""
    original = _frame(person_counts)
    path = tmp_path / "inferno.thermal.png"
    from PIL import Image

    Image.fromarray(apply_colormap(to_unit(original), "inferno")).save(path)
    inverted = ThermalModality(ThermalLoadSettings(colormap="inferno")).load(path)
    luminance = ThermalModality().load(path)
    vectors = F.normalize(thermal_encoder.encode([original, inverted, luminance]), dim=-1)
    cos_inverted, cos_luminance = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    print(f"\ncosine to the 16-bit original: inferno inverted {cos_inverted:.4f}, as luminance {cos_luminance:.4f}")
    assert cos_inverted > 0.99 and cos_inverted > cos_luminance


def _embed_simulated(encoder, tmp_path: Path, per_class: int, seed: int):
    """Simulated frames written as 16-bit PNGs, loaded and embedded: the whole path from file."""
    rng = np.random.default_rng(seed)
    loader = ThermalModality()
    samples, labels = [], []
    for i in range(per_class):
        for label, name in enumerate(CLASSES):
            path = write_png16(tmp_path / f"{name}-{seed}-{i}.thermal.png", simulated_counts(name, rng))
            samples.append(loader.load(path))
            labels.append(label)
    return F.normalize(encoder.encode(samples), dim=-1), torch.tensor(labels)


@pytest.mark.slow
def test_simulated_classes_are_nearest_neighbours_of_their_own_kind(thermal_encoder, tmp_path: Path) -> None:
    """1-NN on simulated radiometric frames (person, car, dog on ~290 K scenes), held-out scenes.

    Simulated data, not recordings: it shows that the normalisation keeps the
    shapes of warm bodies visible to an ImageNet encoder with no training; it
    says nothing about accuracy on real thermal cameras.
    """
    start = time.perf_counter()
    reference, reference_labels = _embed_simulated(thermal_encoder, tmp_path, per_class=8, seed=11)
    held_out, held_out_labels = _embed_simulated(thermal_encoder, tmp_path, per_class=8, seed=12)
    nearest = (held_out @ reference.T).argmax(dim=1)
    accuracy = (reference_labels[nearest] == held_out_labels).float().mean().item()
    chance = 1 / len(CLASSES)
    print(f"\nsimulated thermal frames {CLASSES}: 1-NN accuracy on {len(held_out_labels)} held-out = "
          f"{accuracy:.3f} (chance {chance:.3f}, {len(reference_labels)} references); "
          f"{time.perf_counter() - start:.1f} s")
    assert accuracy >= 0.7
