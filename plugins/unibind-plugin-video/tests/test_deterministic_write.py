"""The same frames encode to the same bytes, so the fuzzer's seed files (and its results) repeat."""

from __future__ import annotations

import numpy as np
import pytest

from unibind_plugin_video.simulated import write_video


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_two_writes_of_the_same_frames_are_byte_identical(tmp_path, suffix):
    frames = np.random.default_rng(0).integers(0, 256, (24, 48, 64, 3), dtype=np.uint8)  # noise: hard to code
    first = write_video(tmp_path / f"a{suffix}", frames, fps=6).read_bytes()
    second = write_video(tmp_path / f"b{suffix}", frames, fps=6).read_bytes()
    assert first == second


def test_x264_runs_without_lookahead_or_mb_tree(tmp_path):
    """Lookahead and the macroblock tree can read uninitialised memory: equal bytes above could be luck."""
    data = write_video(tmp_path / "a.mp4", np.zeros((4, 32, 32, 3), np.uint8), fps=6).read_bytes()
    start = data.index(b"x264 - core")            # x264 writes its settings into the stream as text
    settings = data[start:data.index(b"\0", start)].decode("ascii").split()
    # x264 names its lookahead only while something uses it (mbtree or VBV): absent or 0 is off
    assert "mbtree=0" in settings and all(s == "rc_lookahead=0" for s in settings if s.startswith("rc_lookahead="))
