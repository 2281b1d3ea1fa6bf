"""Shared fixtures: simulated radiometric frames, the default thermal encoder, a tiny local CLIP."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub, which reads it once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a model hub (the repository's conftest also keeps caches out of the user's home)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def person_counts():
    """One simulated (not recorded) 16-bit radiometric frame of a person, 0.01 K per count."""
    import numpy as np
    from unibind_plugin_thermal.simulated import simulated_counts

    return simulated_counts("person", np.random.default_rng(7))


@pytest.fixture(scope="session")
def thermal_encoder():
    """The default thermal encoder (and so the default image encoder), built once through the registry."""
    from unibind.plugins import get_registry

    return get_registry().default("encoder", "thermal").build()


class FakeTextEncoder:
    """A deterministic bag-of-words text encoder (16-d), so tests load no language model."""

    dim = 16
    source = "fake-text"

    def encode(self, texts):
        import torch
        import torch.nn.functional as F

        rows = []
        for text in texts:
            out = torch.zeros(self.dim)
            for word in text.lower().split():
                out += torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(word.encode())))
            rows.append(out)
        return F.normalize(torch.stack(rows), dim=-1)


@pytest.fixture
def fake_text_encoder() -> FakeTextEncoder:
    return FakeTextEncoder()


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CLIP (image 32 px, patch 8, projection 24) and its image processor, saved locally."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    text = {**tower, "vocab_size": 100, "max_position_embeddings": 16, "bos_token_id": 0, "eos_token_id": 1,
            "pad_token_id": 1}
    path = tmp_path_factory.mktemp("tiny-clip")
    CLIPModel(CLIPConfig(vision_config={**tower, "image_size": 32, "patch_size": 8}, text_config=text,
                         projection_dim=24)).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return path
