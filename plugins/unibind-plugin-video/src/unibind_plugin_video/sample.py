"""What the video loader returns: a few frames, when they were taken, and what the file is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class AudioTrack:
    """A video's audio track as float32 samples in [-1, 1], shape ``[channels, samples]``."""

    waveform: np.ndarray
    sample_rate: int
    #: True when the track was longer than the read limit and was cut.
    truncated: bool = False

    @property
    def seconds(self) -> float:
        return self.waveform.shape[-1] / self.sample_rate


@dataclass
class VideoSample:
    """The sampled frames of one video, small enough to hold: never the whole video.

    ``frames`` is uint8 ``[T, H, W, 3]`` RGB; ``timestamps[i]`` is the time in
    seconds (from the file's start) of ``frames[i]``; ``clips[i]`` the clip it
    belongs to (always 0 unless sampling was by clips).
    """

    frames: torch.Tensor
    timestamps: list[float]
    clips: list[int]
    metadata: dict[str, Any] = field(default_factory=dict)
    audio: AudioTrack | None = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != torch.uint8:
            raise ValueError(f"frames must be uint8 [T, H, W, 3], got {self.frames.dtype} "
                             f"{tuple(self.frames.shape)}")
        if not len(self.timestamps) == len(self.clips) == self.frames.shape[0]:
            raise ValueError("frames, timestamps and clips differ in length")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def pil_frames(self) -> list:
        """The frames as RGB ``PIL.Image`` objects (what image encoders take)."""
        from PIL import Image

        return [Image.fromarray(frame) for frame in self.frames.numpy()]

    @classmethod
    def from_frames(cls, frames: Any, fps: float = 1.0, **metadata: Any) -> VideoSample:
        """A sample from an in-memory array/list of RGB frames (tests, generated data)."""
        array = np.stack([np.asarray(f, dtype=np.uint8) for f in frames])
        times = [i / fps for i in range(len(array))]
        return cls(torch.from_numpy(np.ascontiguousarray(array)), times, [0] * len(array), dict(metadata))
