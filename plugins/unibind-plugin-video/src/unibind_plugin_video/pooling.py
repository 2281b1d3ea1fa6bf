"""Temporal pooling: many per-frame feature vectors become one per video."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from unibind_plugin_video.settings import Pooling


def frames_needed(count: int, pooling: Pooling) -> list[int]:
    """Indices of the frames ``pooling`` looks at (one for 'first'/'middle': the rest need no encoding)."""
    if count <= 0:
        raise ValueError("a video sample has no frames")
    if pooling == "first":
        return [0]
    if pooling == "middle":
        return [count // 2]
    return list(range(count))


def pool(features: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """``[T, D]`` features of one video's frames to ``[D]``."""
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"expected [T>0, D] features, got {tuple(features.shape)}")
    if pooling == "mean":
        return features.mean(0)
    if pooling == "max":
        return features.amax(0)
    return features[frames_needed(features.shape[0], pooling)[0]]


def pool_segments(features: torch.Tensor, lengths: Sequence[int], pooling: Pooling) -> torch.Tensor:
    """Pool consecutive runs of ``lengths`` rows of ``features`` ``[sum(lengths), D]`` to ``[N, D]``."""
    if sum(lengths) != features.shape[0]:
        raise ValueError(f"lengths add up to {sum(lengths)}, features have {features.shape[0]} rows")
    return torch.stack([pool(part, pooling) for part in features.split(list(lengths))])
