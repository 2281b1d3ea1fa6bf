"""The shared UniBind plugin contract, run against the image plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from unibind.specs import Spec
from unibind.testing import PluginContract


@pytest.mark.filterwarnings("ignore:timm model .* has random weights")
class TestContract(PluginContract):
    plugin = "image"

    @pytest.fixture(autouse=True)
    def _context(self, lite0, fake_text_encoder, tiny_clip_dir, tiny_captioner_dir) -> None:
        self.lite0 = lite0
        self.text_encoder = fake_text_encoder
        self.tiny_clip_dir = tiny_clip_dir
        self.tiny_captioner_dir = tiny_captioner_dir

    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        from PIL import Image
        from sklearn.datasets import load_sample_image

        assert modality == "image"
        path = tmp_path / "china.png"
        Image.fromarray(load_sample_image("china.jpg")).resize((96, 64)).save(path)
        return path

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path:
        from PIL import Image
        from sklearn.datasets import load_sample_image

        path = tmp_path / "flower.png"
        Image.fromarray(load_sample_image("flower.jpg")).resize((80, 72)).save(path)
        return path

    def encoder_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        if name == "timm":
            return {"model": "test_efficientnet", "pretrained": False}
        if name == "hf-vision":
            return {"model": str(self.tiny_clip_dir)}
        return None  # efficientnet-lite0: defaults, weights from its package

    def adapter_context(self, spec: Spec, tmp_path: Path) -> dict[str, Any]:
        # the bridge needs an encoder with an ImageNet head and a text encoder (fake: quick)
        return {"encoder": self.lite0, "text_encoder": self.text_encoder,
                "in_dim": self.lite0.dim, "out_dim": self.text_encoder.dim}

    def source_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        if name == "hf-captioner":
            return {"model": str(self.tiny_captioner_dir), "max_new_tokens": 6}
        return None  # imagenet-captioner: defaults, the default encoder's own head
