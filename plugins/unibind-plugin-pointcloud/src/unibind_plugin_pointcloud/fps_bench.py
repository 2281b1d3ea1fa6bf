"""Farthest-point sampling timings of every available path, measured side by side in one run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from unibind_plugin_pointcloud.ops import (
    coverage_radius,
    fps_fpsample,
    fps_pointnet2_ops,
    fps_torch,
    fpsample_available,
    normalise,
    pointnet2_ops_available,
)
from unibind_plugin_pointcloud.simulated import simulated_cloud


@dataclass
class FpsTiming:
    """One path: median time, what its sample covers, and whether it matched the torch path."""

    path: str
    seconds: float | None = None
    coverage: float | None = None
    valid: bool | None = None
    same_as_torch: float | None = None
    unavailable: str | None = None


def _median_time(run: Callable[[], torch.Tensor], repeat: int, sync: bool = False) -> tuple[float, torch.Tensor]:
    result = run()  # warm-up (and the answer)
    times = []
    for _ in range(repeat):
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def fps_timings(points: int = 10_000, samples: int = 1024, repeat: int = 5, shape: str = "torus",
                seed: int = 0) -> list[FpsTiming]:
    """Time each FPS path on one simulated cloud of ``points``, sampling ``samples``, from index 0."""
    cloud = torch.from_numpy(normalise(simulated_cloud(shape, np.random.default_rng(seed), points).points))
    paths: list[tuple[str, Callable[[], torch.Tensor] | None, str | None, bool]] = [
        ("torch (cpu)", lambda: fps_torch(cloud, samples), None, False),
        ("fpsample (exact)", lambda: torch.from_numpy(fps_fpsample(cloud, samples)), fpsample_available(), False),
        ("fpsample (QuickFPS)", lambda: torch.from_numpy(fps_fpsample(cloud, samples, bucket=True)),
         fpsample_available(), False),
    ]
    cuda = torch.cuda.is_available()
    if cuda:
        gpu = cloud.cuda()
        paths.append(("torch (cuda)", lambda: fps_torch(gpu, samples).cpu(), None, True))
    why = pointnet2_ops_available()
    paths.append(("pointnet2_ops (cuda)", (lambda: fps_pointnet2_ops(gpu[None], samples)[0].cpu()) if why is None
                  else None, why, True))
    reference: torch.Tensor | None = None
    out = []
    for name, run, missing, sync in paths:
        if run is None or missing:
            out.append(FpsTiming(name, unavailable=missing or "not available"))
            continue
        seconds, idx = _median_time(run, repeat, sync and cuda)
        idx = idx.long().cpu()
        if reference is None:
            reference = idx
        out.append(FpsTiming(
            name, seconds, coverage_radius(cloud, idx),
            valid=bool(len(idx) == samples and idx.unique().numel() == samples and 0 <= idx.min()
                       and idx.max() < points),
            same_as_torch=float((idx == reference).float().mean()),
        ))
    random = torch.randperm(points, generator=torch.Generator().manual_seed(seed))[:samples]
    out.append(FpsTiming("random (baseline)", coverage=coverage_radius(cloud, random), valid=True))
    return out
