"""Normalisation, farthest-point sampling on every path, ball query, kNN and grouping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from unibind_plugin_pointcloud.ops import (
    ball_query,
    coverage_radius,
    farthest_point_sample,
    fps_fpsample,
    fps_torch,
    gather,
    knn,
    normalise,
    pointnet2_ops_available,
    resolve_backend,
    sample_indices,
)
from unibind_plugin_pointcloud.simulated import SHAPES


def _cloud(simulated, shape: str = "torus", points: int = 3000, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(simulated(shape, seed=seed, points=points).points)


def test_normalise_centres_and_fits_the_unit_sphere(simulated) -> None:
    points = _cloud(simulated) * 7 + 3
    out = normalise(points)
    assert torch.allclose(out.mean(0), torch.zeros(3), atol=1e-5)
    assert out.norm(dim=1).max() == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(normalise(torch.ones(1, 3)), torch.zeros(1, 3))  # one point: centred, not divided by 0
    assert np.allclose(normalise(points.numpy()), out.numpy(), atol=1e-5)  # numpy in, numpy out, same result


def _is_valid_fps(idx: torch.Tensor, n: int, count: int) -> bool:
    return len(idx) == n and idx.unique().numel() == n and int(idx.min()) >= 0 and int(idx.max()) < count


@pytest.mark.parametrize("shape", SHAPES)
def test_cpu_paths_return_the_same_valid_fps_indices(shape: str, simulated) -> None:
    """torch and fpsample from the same start index agree point for point (simulated shapes)."""
    points = normalise(_cloud(simulated, shape, 2000))
    by_torch = farthest_point_sample(points, 256, "torch")
    by_fpsample = farthest_point_sample(points, 256, "fpsample")
    assert _is_valid_fps(by_torch, 256, 2000) and _is_valid_fps(by_fpsample, 256, 2000)
    assert by_torch[0] == by_fpsample[0] == 0
    same = float((by_torch == by_fpsample).float().mean())
    r_torch, r_fps = coverage_radius(points, by_torch), coverage_radius(points, by_fpsample)
    print(f"\nsimulated {shape}: torch vs fpsample identical indices {same:.1%}, "
          f"coverage radius {r_torch:.4f} vs {r_fps:.4f}")
    # Ties in float32 distances may order two equally far points differently; coverage then still agrees.
    assert same > 0.95 or r_fps == pytest.approx(r_torch, rel=0.02)


def test_fpsample_quickfps_is_valid_and_covers_as_well(simulated) -> None:
    """The bucketed QuickFPS (benchmark only) picks another order, but as good a sample."""
    points = normalise(_cloud(simulated, "box", 5000))
    quick = torch.from_numpy(fps_fpsample(points, 512, bucket=True))
    exact = fps_torch(points, 512)
    assert _is_valid_fps(quick, 512, 5000)
    assert coverage_radius(points, quick) == pytest.approx(coverage_radius(points, exact), rel=0.1)


def test_fps_covers_better_than_random_sampling(simulated) -> None:
    """Coverage radius (farthest any point is from the sample) of FPS vs random picks, simulated clouds."""
    generator = torch.Generator().manual_seed(0)
    for shape in SHAPES:
        points = normalise(_cloud(simulated, shape, 5000, seed=3))
        fps = coverage_radius(points, farthest_point_sample(points, 512))
        random = np.median([coverage_radius(points, torch.randperm(5000, generator=generator)[:512])
                            for _ in range(3)])
        print(f"\nsimulated {shape}: coverage radius FPS {fps:.4f}, random {random:.4f} "
              f"(FPS {random / fps:.1f}x tighter)")
        assert fps < 0.7 * random


def test_batched_torch_fps_matches_one_cloud_at_a_time(simulated) -> None:
    batch = torch.stack([normalise(_cloud(simulated, s, 800)) for s in ("cone", "torus", "box")])
    together = fps_torch(batch, 64)
    assert together.shape == (3, 64)
    for cloud, idx in zip(batch, together):
        assert torch.equal(idx, fps_torch(cloud, 64))
    assert torch.equal(farthest_point_sample(batch, 64, "fpsample"), together)


def test_pointnet2_ops_runs_only_where_it_can_and_says_why_not() -> None:
    why = pointnet2_ops_available()
    if why is not None:
        with pytest.raises(RuntimeError, match="pointnet2_ops cannot run"):
            resolve_backend("pointnet2_ops", "cpu")
        assert resolve_backend("auto", "cpu") == "fpsample"
        pytest.skip(f"pointnet2_ops path not runnable on this machine: {why}")
    points = torch.rand(2, 4000, 3, device="cuda")
    by_cuda = farthest_point_sample(points, 256, "pointnet2_ops")
    assert resolve_backend("auto", "cuda") == "pointnet2_ops"
    for cloud, idx in zip(points.cpu(), by_cuda.cpu()):
        assert _is_valid_fps(idx, 256, 4000)
        assert coverage_radius(cloud, idx) == pytest.approx(coverage_radius(cloud, fps_torch(cloud, 256)), rel=0.05)


def test_sample_indices_repeats_small_clouds_and_refuses_nonsense() -> None:
    assert sample_indices(3, torch.zeros(3, 3), 7).tolist() == [0, 1, 2, 0, 1, 2, 0]
    with pytest.raises(ValueError, match="cannot farthest-point sample 5 of 3"):
        farthest_point_sample(torch.rand(3, 3), 5)


def test_knn_matches_brute_force() -> None:
    points = torch.rand(2, 300, 3, generator=torch.Generator().manual_seed(1))
    query = points[:, :20]
    idx = knn(query, points, 8)
    brute = torch.cdist(query, points).argsort(dim=-1)[..., :8]
    assert torch.equal(idx, brute)
    assert (idx[..., 0] == torch.arange(20)).all()  # each query point is its own nearest neighbour


def test_ball_query_takes_members_in_index_order_and_pads_with_the_first() -> None:
    line = torch.tensor([[[0.0, 0, 0], [0.1, 0, 0], [0.2, 0, 0], [5.0, 0, 0], [0.15, 0, 0]]])
    centres = line[:, [0, 3]]
    idx = ball_query(centres, line, radius=0.16, k=4)
    assert idx[0, 0].tolist() == [0, 1, 4, 0]  # members 0, 1, 4 in index order, padded with the first
    assert idx[0, 1].tolist() == [3, 3, 3, 3]  # alone in its ball
    far = ball_query(torch.tensor([[[9.0, 0, 0]]]), line, radius=0.1, k=2)
    assert far.tolist() == [[[3, 3]]]  # an empty ball falls back to the nearest point
    points = torch.rand(1, 500, 3, generator=torch.Generator().manual_seed(2))
    groups = ball_query(points[:, :50], points, radius=0.2, k=16)
    distances = (gather(points, groups) - points[:, :50, None]).norm(dim=-1)
    assert (distances <= 0.2 + 1e-6).all()


def test_gather_picks_rows_per_batch() -> None:
    values = torch.arange(24.0).reshape(2, 4, 3)
    idx = torch.tensor([[[3, 0]], [[1, 1]]])
    out = gather(values, idx)
    assert out.shape == (2, 1, 2, 3)
    assert torch.equal(out[0, 0, 0], values[0, 3]) and torch.equal(out[1, 0, 1], values[1, 1])
