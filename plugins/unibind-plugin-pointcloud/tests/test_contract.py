"""The shared UniBind plugin contract, run against the point-cloud plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from unibind_plugin_pointcloud.simulated import simulated_cloud
from unibind_plugin_pointcloud.writers import write_ply

from unibind.testing import PluginContract


@pytest.mark.filterwarnings("ignore:pointnet2 has random weights")
class TestContract(PluginContract):
    plugin = "pointcloud"

    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        """A real small binary PLY (x y z, normals) of a simulated torus."""
        assert modality == "pointcloud"
        cloud = simulated_cloud("torus", np.random.default_rng(0), 300)
        return write_ply(tmp_path / "simulated-torus.ply", cloud)

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path:
        cloud = simulated_cloud("box", np.random.default_rng(1), 200)
        return write_ply(tmp_path / "simulated-box.ply", cloud)

    def encoder_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        if name == "pointnet2":  # small, so the kit's batch runs in a blink
            return {"num_points": 256, "sa_points": [64, 16], "sa_samples": [8, 8], "width": 0.25}
        return None
