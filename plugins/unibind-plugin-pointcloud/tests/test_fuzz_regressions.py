"""Bugs the reader fuzzer (scripts/reader_fuzzer.py) found, each kept as a regression test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from unibind_plugin_pointcloud.cloud import PointCloud
from unibind_plugin_pointcloud.loading import PointCloudModality
from unibind_plugin_pointcloud.preprocess import prepare
from unibind_plugin_pointcloud.settings import PreprocessSettings
from unibind_plugin_pointcloud.writers import write_ply

from unibind.errors import InputError


def test_absurd_coordinates_from_damaged_bytes_are_dropped_not_embedded_as_nan(tmp_path: Path) -> None:
    """Fuzz: a binary PLY whose bytes were shifted read as floats up to 2e37; the embedding came out NaN."""
    points = np.random.default_rng(0).random((64, 3)).astype(np.float32)
    points[::8] = [1.99e37, -5.9e27, 3.0e20]
    cloud = PointCloudModality().load(write_ply(tmp_path / "shifted.ply", PointCloud(points)))
    assert len(cloud) == 56 and cloud.notes["dropped_non_finite"] == "8"
    assert torch.isfinite(prepare(cloud, PreprocessSettings(num_points=32))).all()


def test_a_cloud_of_only_absurd_coordinates_is_refused_naming_the_file(tmp_path: Path) -> None:
    points = np.full((16, 3), 3.0e38, np.float32)
    with pytest.raises(InputError, match=r"garbage\.ply: every one of its 16 points has a NaN, infinite or absurd"):
        PointCloudModality().load(write_ply(tmp_path / "garbage.ply", PointCloud(points)))


@pytest.mark.timeout(60)  # on the old code the load never returned
def test_a_huge_pcd_count_is_refused_at_once_not_a_hang(tmp_path: Path) -> None:
    """Fuzz: COUNT 2147483648 made pypcd4 build 2**31 field names (the load never returned)."""
    import time

    from unibind_plugin_pointcloud.writers import write_pcd

    path = write_pcd(tmp_path / "counted.pcd", PointCloud(np.random.default_rng(0).random((8, 3)).astype(np.float32)),
                     "binary")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"COUNT 1 1 1", b"COUNT 1 1 2147483648", 1))
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"counted\.pcd: bad PCD header: COUNT 1 1 2147483648"):
        PointCloudModality().load(path)
    assert time.perf_counter() - start < 5
