"""Point-cloud operations: normalisation, farthest-point sampling, ball query, kNN, grouping.

Farthest-point sampling (FPS) has three paths that return the same kind of
answer, indices of a greedy max-min sample starting at index 0:

- ``torch``: pure torch, batched; runs anywhere (CPU or GPU);
- ``fpsample``: the fpsample library's C++ FPS, several times faster on CPU;
- ``pointnet2_ops``: the CUDA kernel of PointNet++ (Pointnet2_PyTorch), when it
  is importable and the points are on a CUDA device.

Ball query and kNN are plain torch (``cdist`` + sort/topk), batched.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import torch

Backend = Literal["auto", "torch", "fpsample", "pointnet2_ops"]


# -- normalisation ------------------------------------------------------------------------------

def normalise(points: np.ndarray | torch.Tensor, *, centre: bool = True, unit_sphere: bool = True):
    """Centroid to the origin and the farthest point to distance 1 (a single point stays put)."""
    xp = torch if isinstance(points, torch.Tensor) else np
    out = points - points.mean(0, keepdims=True) if centre else points
    if unit_sphere:
        radius = float(xp.sqrt((out**2).sum(-1)).max())
        if radius > 0:
            out = out / radius
    return out


# -- farthest-point sampling --------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def pointnet2_ops_available() -> str | None:
    """None when the CUDA path can run here, else why not."""
    if not torch.cuda.is_available():
        return "no CUDA device"
    try:
        from pointnet2_ops import pointnet2_utils  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - an ImportError, or a CUDA extension that fails to load
        return f"pointnet2_ops is not importable ({type(exc).__name__}: {exc})"
    return None


@functools.lru_cache(maxsize=1)
def fpsample_available() -> str | None:
    try:
        import fpsample  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return f"fpsample is not importable ({type(exc).__name__}: {exc})"
    return None


def resolve_backend(backend: Backend, device: torch.device | str = "cpu") -> str:
    """The FPS path ``backend`` means for points on ``device``; refuses one that cannot run."""
    device = torch.device(device)
    if backend == "auto":
        if device.type == "cuda" and pointnet2_ops_available() is None:
            return "pointnet2_ops"
        return "fpsample" if fpsample_available() is None else "torch"
    if backend == "pointnet2_ops" and (why := pointnet2_ops_available()):
        raise RuntimeError(f"FPS backend pointnet2_ops cannot run: {why}")
    if backend == "fpsample" and (why := fpsample_available()):
        raise RuntimeError(f"FPS backend fpsample cannot run: {why}")
    return backend


def fps_torch(points: torch.Tensor, n: int, start: int = 0) -> torch.Tensor:
    """Batched greedy FPS: ``[B, N, 3]`` -> ``[B, n]`` int64 indices (``[N, 3]`` -> ``[n]``)."""
    single = points.ndim == 2
    xyz = points[None] if single else points
    b, count, _ = xyz.shape
    xyz = xyz.float()
    chosen = torch.empty(b, n, dtype=torch.long, device=xyz.device)
    nearest = torch.full((b, count), float("inf"), device=xyz.device)
    farthest = torch.full((b,), start, dtype=torch.long, device=xyz.device)
    rows = torch.arange(b, device=xyz.device)
    for i in range(n):
        chosen[:, i] = farthest
        centre = xyz[rows, farthest][:, None, :]
        nearest = torch.minimum(nearest, ((xyz - centre) ** 2).sum(-1))
        farthest = nearest.argmax(-1)
    return chosen[0] if single else chosen


def fps_fpsample(points: np.ndarray | torch.Tensor, n: int, start: int = 0, *, bucket: bool = False
                 ) -> np.ndarray:
    """FPS of one cloud ``[N, 3]`` with fpsample; int64 indices ``[n]``.

    The default is fpsample's exact FPS, which returns the very sequence the
    torch path does. ``bucket=True`` takes its QuickFPS (bucketed k-d tree),
    several times faster again, but in fpsample 1.0 it does not honour the
    start index and its order differs: only the benchmark offers it.
    """
    import fpsample

    xyz = points.detach().cpu().numpy() if isinstance(points, torch.Tensor) else np.asarray(points)
    xyz = np.ascontiguousarray(xyz[:, :3], dtype=np.float32)
    if not bucket or len(xyz) < 16:
        return np.asarray(fpsample.fps_sampling(xyz, n, start_idx=start), dtype=np.int64)
    count = len(xyz)
    height = 3 if count < 20_000 else 5 if count < 200_000 else 7
    height = max(1, min(height, int(np.log2(count)) - 1))
    return np.asarray(fpsample.bucket_fps_kdline_sampling(xyz, n, h=height, start_idx=start), dtype=np.int64)


def fps_pointnet2_ops(points: torch.Tensor, n: int) -> torch.Tensor:
    """PointNet++'s CUDA FPS: ``[B, N, 3]`` (CUDA) -> ``[B, n]`` int64; it always starts at index 0."""
    from pointnet2_ops import pointnet2_utils

    return pointnet2_utils.furthest_point_sample(points[..., :3].float().contiguous(), n).long()


def farthest_point_sample(points: torch.Tensor | np.ndarray, n: int, backend: Backend = "auto"
                          ) -> torch.Tensor:
    """Indices of ``n`` farthest points of ``[N, 3]`` or ``[B, N, 3]``, starting at index 0.

    ``n`` may not exceed the number of points: see :func:`sample_indices` for padding.
    """
    tensor = torch.as_tensor(points)
    count = tensor.shape[-2]
    if not 1 <= n <= count:
        raise ValueError(f"cannot farthest-point sample {n} of {count} points")
    path = resolve_backend(backend, tensor.device)
    if path == "pointnet2_ops":
        batched = tensor[None] if tensor.ndim == 2 else tensor
        out = fps_pointnet2_ops(batched, n)
        return out[0] if tensor.ndim == 2 else out
    if path == "fpsample":
        if tensor.ndim == 2:
            return torch.from_numpy(fps_fpsample(tensor, n)).to(tensor.device)
        return torch.stack([torch.from_numpy(fps_fpsample(c, n)) for c in tensor]).to(tensor.device)
    return fps_torch(tensor[..., :3], n)


def sample_indices(count: int, points: torch.Tensor | np.ndarray, n: int, backend: Backend = "auto"
                   ) -> torch.Tensor:
    """``n`` indices into a cloud of ``count`` points: FPS when it has enough, else all of them
    repeated in order (so small clouds still fill a fixed-size batch)."""
    if count >= n:
        return farthest_point_sample(points, n, backend)
    return torch.arange(n) % count


def coverage_radius(points: torch.Tensor, chosen: torch.Tensor) -> float:
    """The largest distance from any point to its nearest chosen point: what FPS minimises (greedily)."""
    return float(torch.cdist(points[None].float(), points[chosen][None].float())[0].min(1).values.max())


# -- neighbourhoods ------------------------------------------------------------------------------

def knn(query: torch.Tensor, points: torch.Tensor, k: int) -> torch.Tensor:
    """Indices ``[B, M, k]`` of the ``k`` nearest ``points [B, N, 3]`` of each ``query [B, M, 3]``, nearest first."""
    if k > points.shape[1]:
        raise ValueError(f"k={k} neighbours asked of {points.shape[1]} points")
    return torch.cdist(query, points).topk(k, dim=-1, largest=False).indices


def ball_query(query: torch.Tensor, points: torch.Tensor, radius: float, k: int) -> torch.Tensor:
    """Up to ``k`` points within ``radius`` of each query, as PointNet++ groups them: ``[B, M, k]``.

    The first ``k`` in index order are taken; a ball with fewer repeats its
    first member to fill the slots. A ball with none (possible only when a
    query is not itself a point) falls back to the nearest point.
    """
    n = points.shape[1]
    d2 = torch.cdist(query, points) ** 2
    inside = d2 <= radius * radius
    order = torch.arange(n, device=points.device).expand_as(d2)
    idx = torch.where(inside, order, torch.full_like(order, n)).sort(dim=-1).values[..., :k]
    if idx.shape[-1] < k:  # fewer points than k overall
        idx = torch.cat([idx, idx.new_full(idx.shape[:-1] + (k - idx.shape[-1],), n)], dim=-1)
    first = idx[..., :1]
    empty = first == n
    first = torch.where(empty, d2.argmin(-1, keepdim=True), first)
    return torch.where(idx == n, first.expand_as(idx), idx)


def gather(values: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``values [B, N, C]`` at ``idx [B, ...]`` -> ``[B, ..., C]``."""
    b = values.shape[0]
    flat = idx.reshape(b, -1)
    out = torch.gather(values, 1, flat[..., None].expand(-1, -1, values.shape[-1]))
    return out.reshape(*idx.shape, values.shape[-1])
