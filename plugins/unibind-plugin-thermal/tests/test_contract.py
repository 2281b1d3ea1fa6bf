"""The shared UniBind plugin contract, run against the thermal plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from unibind.testing import PluginContract, bad_file_variants, check_loader_rejects
from unibind_plugin_thermal.loading import ThermalModality
from unibind_plugin_thermal.simulated import simulated_counts, write_png16, write_tiff


class TestContract(PluginContract):
    plugin = "thermal"

    @pytest.fixture(autouse=True)
    def _context(self, tiny_clip_dir) -> None:
        self.tiny_clip_dir = tiny_clip_dir

    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        """A real 16-bit PNG holding a simulated radiometric frame (a car, 0.01 K per count)."""
        assert modality == "thermal"
        return write_png16(tmp_path / "scene.thermal.png", simulated_counts("car", np.random.default_rng(0)))

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path:
        return write_png16(tmp_path / "other.thermal.png", simulated_counts("person", np.random.default_rng(3)))

    def encoder_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        if name == "hf-thermal":
            return {"model": str(self.tiny_clip_dir)}
        return None  # thermal-image: defaults, the image modality's default encoder



def test_tiff_sample_passes_the_loader_checks(tmp_path: Path) -> None:
    """The kit's bad-file checks on the other lossless format the loader reads: a 16-bit TIFF."""
    good = write_tiff(tmp_path / "scene.thermal.tiff", simulated_counts("dog", np.random.default_rng(1)))
    modality = ThermalModality()
    assert modality.load(good).values.dtype == np.uint16
    check_loader_rejects(modality, bad_file_variants(good, tmp_path / "bad"))


def test_deflate_tiff_passes_the_loader_checks(tmp_path: Path) -> None:
    """Compressed TIFFs too: a damaged deflate stream is an InputError, not zeros."""
    good = write_tiff(tmp_path / "scene.thermal.tiff", simulated_counts("person", np.random.default_rng(2)),
                      compression="zlib")
    modality = ThermalModality()
    assert modality.load(good).shape == (120, 160)
    check_loader_rejects(modality, bad_file_variants(good, tmp_path / "bad"))
