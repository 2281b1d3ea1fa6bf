"""Shared fixtures: offline runs, simulated recordings of real MNIST digits, the encoders built once."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pytest


# Set before anything imports huggingface_hub, which reads it once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach a model hub, and no test touches the user's cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "unibind-cache"))


@pytest.fixture(scope="session")
def simulated_digit() -> np.ndarray:
    """One simulated N-MNIST-style recording (events) of a real MNIST '3', noise included."""
    from unibind_plugin_event.simulate import simulated_nmnist

    streams, _ = simulated_nmnist(1, seed=3, classes=(3,))
    return streams[0]


@pytest.fixture(scope="session")
def image_encoder():
    """The image modality's default encoder (EfficientNet-Lite0, shipped weights), built once."""
    from unibind.plugins import get_registry

    return get_registry().default("encoder", "image").build()


@pytest.fixture(scope="session")
def event_encoder(image_encoder):
    """The default event-render encoder on the shared image encoder."""
    from unibind_plugin_event.encoder import build_event_render
    from unibind_plugin_event.settings import EventRenderSettings

    return build_event_render(EventRenderSettings(), image_encoder=image_encoder)


class HashTextEncoder:
    """A stand-in text encoder (16-d vectors seeded by the text), so tests load no language model."""

    dim = 16
    source = "test-hash-text-encoder"

    def encode(self, texts):
        import torch

        return torch.stack([torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(t.encode())))
                            for t in texts])


@pytest.fixture(scope="session")
def hash_text_encoder() -> HashTextEncoder:
    return HashTextEncoder()
