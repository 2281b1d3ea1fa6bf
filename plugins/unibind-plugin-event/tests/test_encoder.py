"""The event-render encoder: it borrows an image encoder through the registry and keeps the digit class.

The recordings are simulated from real MNIST digits (see ``simulate``), not sensor data.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unibind.errors import NotRegisteredError, SettingsError
from unibind.plugins import get_registry
from unibind_plugin_event import writers
from unibind_plugin_event.encoder import EventRenderEncoder
from unibind_plugin_event.events import EventStream
from unibind_plugin_event.loading import EventModality
from unibind_plugin_event.representations import event_maps
from unibind_plugin_event.settings import EventLoadSettings, EventRenderSettings
from unibind_plugin_event.simulate import NMNIST_SENSOR, simulated_nmnist


def test_takes_the_image_default_and_its_dimension(event_encoder) -> None:
    assert EventRenderEncoder.image_encoder_spec(None).name == get_registry().default("encoder", "image").name
    assert event_encoder.dim == event_encoder.image.dim > 0
    assert not any(p.requires_grad for p in event_encoder.parameters())
    assert get_registry().default("encoder", "event").name == "event-render"


def test_image_encoder_is_chosen_by_registered_name() -> None:
    with pytest.raises(NotRegisteredError, match="no encoder named 'no-such-encoder'"):
        EventRenderEncoder.image_encoder_spec("no-such-encoder")
    with pytest.raises(SettingsError, match="'minilm' encodes 'text'"):
        EventRenderEncoder.image_encoder_spec("minilm")


def test_features_are_the_image_encoders_pooled_over_slices(event_encoder, image_encoder, simulated_digit) -> None:
    stream = EventStream(simulated_digit, NMNIST_SENSOR)
    pictures = event_encoder.render(stream)
    assert len(pictures) == event_encoder.settings.n_frames == 3
    per_slice = image_encoder.encode(pictures)
    assert torch.allclose(event_encoder.encode([stream]), per_slice.mean(0, keepdim=True), atol=1e-4)
    as_max = EventRenderEncoder(EventRenderSettings(pooling="max"), image_encoder)
    assert torch.allclose(as_max.encode([stream]), per_slice.amax(0, keepdim=True), atol=1e-4)
    # a bare structured array works too (sensor inferred), and other samples are refused clearly
    assert event_encoder.encode([simulated_digit]).shape == (1, event_encoder.dim)
    with pytest.raises(TypeError, match="takes EventStream samples"):
        event_encoder.preprocess(np.zeros((10, 4)))


def test_exposes_the_image_encoders_imagenet_head(event_encoder) -> None:
    head = event_encoder.image.imagenet_head()
    assert head is not None and event_encoder.imagenet_head() is head
    assert head.in_features == event_encoder.dim


def test_default_adapter_is_the_imagenet_bridge_on_event_features(event_encoder, hash_text_encoder,
                                                                  simulated_digit) -> None:
    """Zero-training event features in the text space: the event modality's default adapter."""
    spec = get_registry().default("adapter", "event")
    assert spec.name == "imagenet-bridge" and spec.requires == "imagenet_head"
    bridge = spec.build(encoder=event_encoder, text_encoder=hash_text_encoder)
    out = bridge(event_encoder.encode([EventStream(simulated_digit, NMNIST_SENSOR)]))
    assert out.shape == (1, hash_text_encoder.dim)
    assert torch.allclose(out.norm(dim=-1), torch.ones(1), atol=1e-5)


def _loo_accuracy(features: torch.Tensor, labels: torch.Tensor) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy under cosine similarity."""
    features = F.normalize(features, dim=-1)
    sims = features @ features.T
    sims.fill_diagonal_(-float("inf"))
    return (labels[sims.argmax(dim=1)] == labels).float().mean().item()


@pytest.mark.slow
def test_simulated_nmnist_embeddings_keep_the_digit_class(tmp_path: Path) -> None:
    """Leave-one-out 1-NN on 10 classes x 20 simulated N-MNIST-style recordings of real MNIST digits.

    Each recording is written in the N-MNIST binary format, loaded the way N-MNIST
    is (34x34 sensor), rendered with the default settings (EventCLIP maps, 3 slices,
    mean pooling) and embedded by the default image encoder. To keep the run short
    the image encoder sees 128-pixel inputs instead of its default 224 (the
    renderings are 34x34 either way). Simulated data: this shows the rendering keeps
    the class an ImageNet encoder can use with no training; it says nothing about
    real sensor recordings.
    """
    start = time.perf_counter()
    image = get_registry().default("encoder", "image").build({"input_size": 128})
    encoder = EventRenderEncoder(EventRenderSettings(), image)
    streams, labels = simulated_nmnist(per_class=20, seed=11)
    loader = EventModality(EventLoadSettings(sensor_size=NMNIST_SENSOR))
    samples = [loader.load(writers.write_nmnist(tmp_path / f"simulated-{i:03d}.bin", events))
               for i, events in enumerate(streams)]
    labels = torch.as_tensor(labels)
    accuracy = _loo_accuracy(encoder.encode(samples, batch_size=20), labels)
    pixels = torch.as_tensor(np.stack([event_maps(s, encoder.settings).ravel() for s in samples]))
    baseline = _loo_accuracy(pixels, labels)
    print(f"\nsimulated N-MNIST (real MNIST digits, {len(labels)} recordings, 10 classes): leave-one-out "
          f"1-NN accuracy {accuracy:.3f} with event-render embeddings ({image.source}, 128 px); "
          f"{baseline:.3f} on the raw EventCLIP maps; chance 0.100; {time.perf_counter() - start:.1f} s")
    assert accuracy >= 0.4
