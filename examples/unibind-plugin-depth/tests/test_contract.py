"""The shared contract kit, run against this plugin (see CONTRIBUTING.md, "Testing")."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unibind.testing import PluginContract, bad_file_variants, check_loader_rejects
from unibind_plugin_depth.loading import DepthModality

from unibind_plugin_depth.simulated import simulated_scene, write_png_mm


class TestContract(PluginContract):
    plugin = "depth"

    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        assert modality == "depth"
        path = tmp_path / "scene.npy"
        np.save(path, simulated_scene("sphere", np.random.default_rng(0), size=32))
        return path

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path:
        path = tmp_path / "other.npy"
        np.save(path, simulated_scene("box", np.random.default_rng(1), size=32))
        return path


def test_png_sample_passes_the_loader_checks(tmp_path: Path) -> None:
    """The kit's bad-file checks, on the other format the loader reads: a 16-bit PNG."""
    good = write_png_mm(tmp_path / "scene.depth.png", simulated_scene("box", np.random.default_rng(1), 32))
    modality = DepthModality()
    assert modality.load(good).shape == (32, 32)
    check_loader_rejects(modality, bad_file_variants(good, tmp_path / "bad"))
