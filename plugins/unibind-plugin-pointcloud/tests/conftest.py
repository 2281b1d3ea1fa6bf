"""Shared fixtures: the default multiview encoder built once, simulated clouds, offline settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub, which reads it once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach a model hub, and no test touches the user's cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "unibind-cache"))


@pytest.fixture(scope="session")
def multiview():
    """The default multiview-depth encoder (and so the default image encoder), built once."""
    from unibind.plugins import get_registry

    return get_registry().get("encoder", "multiview-depth").build()


class HashTextEncoder:
    """A stand-in text encoder (16-d vectors seeded by the text), so tests load no language model."""

    dim = 16
    source = "test-hash-text-encoder"

    def encode(self, texts):
        import zlib

        import torch

        return torch.stack([torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(t.encode())))
                            for t in texts])


@pytest.fixture
def hash_text_encoder() -> HashTextEncoder:
    return HashTextEncoder()


@pytest.fixture
def simulated():
    """``simulated(shape, seed, points)``: one simulated cloud (procedural shape, random pose)."""
    import numpy as np
    from unibind_plugin_pointcloud.simulated import simulated_cloud

    def make(shape: str = "torus", seed: int = 0, points: int = 600):
        return simulated_cloud(shape, np.random.default_rng(seed), points)

    return make
