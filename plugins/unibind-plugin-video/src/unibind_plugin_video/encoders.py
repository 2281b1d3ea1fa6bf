"""The default video encoder: a registered image encoder on each sampled frame, pooled over time.

No video network ships with weights usable offline, but the image encoder's
do, and averaging frame features is how ImageBind itself combines its video
clips. The image encoder is found through the registry (by name, or the image
modality's default), never imported from the image plugin; its dimension,
frozen weights and ImageNet head become this encoder's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from unibind.encoders.base import Encoder, ImageBackedEncoder
from unibind_plugin_video.pooling import frames_needed, pool_segments
from unibind_plugin_video.sample import VideoSample
from unibind_plugin_video.settings import FramesEncoderSettings


class FrameBatch(NamedTuple):
    """The preprocessed frames of several videos, concatenated, and how many belong to each."""

    frames: torch.Tensor
    lengths: tuple[int, ...]


def _check_sample(sample: Any) -> VideoSample:
    if not isinstance(sample, VideoSample):
        raise TypeError(f"video encoders take VideoSample objects (load files with the video modality), "
                        f"got {type(sample).__name__}")
    return sample


class FramesEncoder(ImageBackedEncoder):
    """Video → sampled RGB frames → image encoder per frame → temporal pooling → ``[N, dim]``."""

    modality = "video"
    needed_by = "video-frames"

    def preprocess(self, sample: VideoSample) -> torch.Tensor:
        """``[T, C, H, W]``: the image encoder's own preprocessing of each frame the pooling uses."""
        sample = _check_sample(sample)
        pictures = sample.pil_frames()
        return torch.stack([self.image.preprocess(pictures[i])
                            for i in frames_needed(len(pictures), self.settings.pooling)])

    def collate(self, items: Sequence[torch.Tensor]) -> FrameBatch:
        return FrameBatch(torch.cat(list(items)), tuple(int(t.shape[0]) for t in items))

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """Image-encoder features of ``[T, C, H, W]`` frames, ``frame_batch_size`` at a time."""
        step = self.settings.frame_batch_size
        return torch.cat([self.image(frames[i:i + step]) for i in range(0, frames.shape[0], step)])

    def forward(self, batch: FrameBatch) -> torch.Tensor:
        frames, lengths = batch
        return pool_segments(self.frame_features(frames), lengths, self.settings.pooling)


def build_frames_encoder(settings: FramesEncoderSettings | None = None, *,
                         image_encoder: Encoder | None = None) -> FramesEncoder:
    """Factory of ``video-frames``; pass ``image_encoder`` to share one already built."""
    return FramesEncoder.from_settings(settings or FramesEncoderSettings(), image_encoder=image_encoder)
