"""Where in a file the clips come from: uniform, random (seeded) or centred."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch

from unibind_plugin_audio.sample import AudioSample
from unibind_plugin_audio.settings import ClipSettings


def clip_starts(duration: float, settings: ClipSettings, key: str = "") -> list[float]:
    """Start times (s) of ``settings.clips_per_file`` clips in a file of ``duration`` seconds.

    Every start lies in ``[0, max(duration - clip, 0)]``, so a clip runs past
    the end only when the whole file is shorter than one clip; the same clip
    is then taken (and padded) each time. ``key`` (the file name) varies the
    'random' strategy from file to file while keeping it reproducible.
    """
    n, clip = settings.clips_per_file, settings.clip_seconds
    latest = max(duration - clip, 0.0)
    if settings.strategy == "uniform":
        step = latest / max(n - 1, 1)
        return [step * k for k in range(n)]
    if settings.strategy == "random":
        rng = np.random.default_rng([settings.seed & 0xFFFFFFFF, zlib.crc32(key.encode())])
        return sorted(float(s) for s in rng.uniform(0.0, latest, size=n))
    first = duration / 2 - n * clip / 2
    return [min(max(first + k * clip, 0.0), latest) for k in range(n)]


def clip_waveforms(sample: AudioSample, settings: ClipSettings, rate: int) -> torch.Tensor:
    """``[clips, samples]`` at ``rate``: the clips of ``sample``, each padded with silence to full length."""
    starts = clip_starts(sample.duration, settings, key=Path(sample.source.path).name)
    return torch.stack([sample.excerpt(s, settings.clip_seconds, rate) for s in starts])
