"""The shared UniBind plugin contract, run against the video plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from unibind.testing import PluginContract, bad_file_variants, check_loader_rejects


class TestContract(PluginContract):
    plugin = "video"

    @pytest.fixture(autouse=True)
    def _context(self, tiny_xclip_dir, mnist) -> None:
        self.tiny_xclip_dir = tiny_xclip_dir
        self.mnist = mnist

    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        """A real small mp4 written with PyAV: a real MNIST digit in simulated motion, 12 frames."""
        from unibind_plugin_video.simulated import moving_picture_frames, write_video

        assert modality == "video"
        images, _ = self.mnist
        frames = moving_picture_frames(images[7], np.random.default_rng(7), frames=12, size=48)
        return write_video(tmp_path / "simulated-digit.mp4", frames, fps=6)

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path:
        from unibind_plugin_video.simulated import moving_picture_frames, write_video

        images, _ = self.mnist
        frames = moving_picture_frames(images[3], np.random.default_rng(3), frames=12, size=48)
        return write_video(tmp_path / "simulated-other-digit.mp4", frames, fps=6)

    def encoder_settings(self, name: str, tmp_path: Path) -> dict[str, Any] | None:
        if name == "xclip":
            return {"model": str(self.tiny_xclip_dir)}
        return None  # video-frames: defaults (the image modality's default encoder, offline)


@pytest.mark.parametrize("suffix", [".webm", ".avi", ".mkv", ".mov"])
def test_other_containers_pass_the_loader_checks(suffix: str, tmp_path: Path, level_frames_fn) -> None:
    """The kit's bad-file checks on every other container the loader reads (simulated frames)."""
    from unibind_plugin_video.loading import VideoModality
    from unibind_plugin_video.simulated import write_video

    good = write_video(tmp_path / f"simulated{suffix}", level_frames_fn(12), fps=6)
    modality = VideoModality()
    assert len(modality.load(good)) == 8
    check_loader_rejects(modality, bad_file_variants(good, tmp_path / "bad"))
