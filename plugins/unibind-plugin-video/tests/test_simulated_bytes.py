"""The simulated-video writer gives the same bytes for the same frames (the fuzzer's seeds depend on it)."""

from __future__ import annotations

import numpy as np
import pytest

from unibind_plugin_video.simulated import moving_picture_frames, write_video


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm"])
def test_the_same_frames_write_the_same_bytes(tmp_path, suffix):
    picture = (np.indices((24, 24)).sum(0) % 2 * 255).astype(np.uint8)
    frames = moving_picture_frames(picture, np.random.default_rng(0), frames=8, size=32)
    first = write_video(tmp_path / f"a{suffix}", frames, fps=8.0, gop=4).read_bytes()
    second = write_video(tmp_path / f"b{suffix}", frames, fps=8.0, gop=4).read_bytes()
    assert first == second          # Matroska wrote a random segment id and the muxing date before bitexact
