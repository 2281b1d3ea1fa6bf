"""Hugging Face X-CLIP: a video-text model whose video features share a space with its text.

``XCLIPModel.get_video_features`` runs the CLIP image tower on each frame,
projects, and mixes the frames with X-CLIP's cross-frame transformer (MIT).
The model wants a fixed number of frames (8 for xclip-base-patch32), so a
sample with another count is resampled evenly in time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from unibind.devices import module_device, to_device, to_host
from unibind.encoders.base import Encoder
from unibind.errors import UniBindError
from unibind_plugin_video.encoders import _check_sample
from unibind_plugin_video.sample import VideoSample
from unibind_plugin_video.settings import XCLIPSettings


def even_indices(count: int, wanted: int) -> list[int]:
    """``wanted`` indices spread evenly over ``count`` items (repeating some when there are fewer)."""
    if count <= 0:
        raise ValueError("a video sample has no frames")
    return [min(count - 1, int((i + 0.5) * count / wanted)) for i in range(wanted)]


def _pooled(out: Any) -> torch.Tensor:
    """transformers 4 returns the features, transformers 5 an output object holding them."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


class XCLIPEncoder(Encoder):
    """X-CLIP video features (``projection_dim``), comparable with the same model's text features."""

    modality = "video"

    def __init__(self, settings: XCLIPSettings):
        super().__init__()
        from transformers import AutoImageProcessor, XCLIPModel

        self.settings = settings
        self.source = settings.model
        self.offline = (settings.local_files_only or Path(settings.model).exists()
                        or os.environ.get("HF_HUB_OFFLINE") == "1")
        try:
            self.model = XCLIPModel.from_pretrained(settings.model, local_files_only=self.offline).float()
            self.processor = AutoImageProcessor.from_pretrained(settings.model, local_files_only=self.offline)
        except OSError as exc:
            where = "the local folder" if Path(settings.model).exists() else "the Hugging Face hub"
            raise UniBindError(f"cannot load X-CLIP {settings.model!r} from {where}: {exc}") from exc
        config = self.model.config
        self.num_frames = int(settings.num_frames or config.vision_config.num_frames)
        self.dim = int(config.projection_dim)
        self._tokenizer: Any = None
        self.freeze()

    def preprocess(self, sample: VideoSample) -> torch.Tensor:
        """``[num_frames, C, H, W]`` by the model's own processor (resize, crop, normalise)."""
        sample = _check_sample(sample)
        frames = sample.frames[even_indices(len(sample), self.num_frames)].numpy()
        return self.processor(list(frames), return_tensors="pt")["pixel_values"][0]

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = _pooled(self.model.get_video_features(pixel_values=batch))
        return F.normalize(out, dim=-1) if self.settings.normalize else out

    @torch.inference_mode()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """X-CLIP text features of ``texts``, in the same space as :meth:`forward` (zero-shot)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.settings.model, local_files_only=self.offline)
        tokens = self._tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        tokens = to_device({k: tokens[k] for k in ("input_ids", "attention_mask")}, module_device(self.model))
        out = _pooled(self.model.get_text_features(**tokens))
        return to_host(F.normalize(out, dim=-1) if self.settings.normalize else out)

    def imagenet_head(self) -> None:
        """No ImageNet classifier: use X-CLIP's own text side, or train a linear adapter."""
        return


def build_xclip(settings: XCLIPSettings | None = None, **_: Any) -> XCLIPEncoder:
    return XCLIPEncoder(settings or XCLIPSettings())
