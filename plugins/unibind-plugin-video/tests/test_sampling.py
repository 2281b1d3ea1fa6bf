"""Sampling strategies: which timestamps each one asks for (pure arithmetic, no files)."""

from __future__ import annotations

import pytest
from unibind_plugin_video.sampling import plan
from unibind_plugin_video.settings import VideoSettings


def test_uniform_takes_segment_centres() -> None:
    p = plan(1.0, 8.0, VideoSettings(num_frames=4))
    assert p.times == pytest.approx((2.0, 4.0, 6.0, 8.0))
    assert p.clips == (0, 0, 0, 0)


def test_clips_follow_imagebind_layout() -> None:
    """5 clips of 2 s from the first to the last second, 2 frames each (ImageBind's video recipe)."""
    p = plan(0.0, 22.0, VideoSettings(sampling="clips"))
    assert len(p.times) == 10
    assert p.clips == (0, 0, 1, 1, 2, 2, 3, 3, 4, 4)
    # clip starts 0, 5, 10, 15, 20 (last one ends at the end); frames at the centres of each half
    assert p.times == pytest.approx((0.5, 1.5, 5.5, 6.5, 10.5, 11.5, 15.5, 16.5, 20.5, 21.5))


def test_clips_overlap_in_a_video_shorter_than_the_clips() -> None:
    p = plan(0.0, 1.0, VideoSettings(sampling="clips", clips=3, frames_per_clip=2))
    assert all(0.0 <= t < 1.0 for t in p.times)
    assert p.times == pytest.approx((0.25, 0.25, 0.25, 0.75, 0.75, 0.75))


def test_fps_and_its_cap() -> None:
    assert plan(0.0, 5.0, VideoSettings(sampling="fps", fps=2.0)).times == pytest.approx(
        tuple(0.25 + 0.5 * k for k in range(10)))
    capped = plan(0.0, 3600.0, VideoSettings(sampling="fps", fps=1.0, max_frames=6))
    assert len(capped.times) == 6
    assert capped.times[0] < 600 and capped.times[-1] > 3000  # spread over the hour, not its start
    assert plan(0.0, 0.2, VideoSettings(sampling="fps", fps=1.0)).times == pytest.approx((0.1,))


def test_max_frames_caps_every_strategy() -> None:
    s = VideoSettings(sampling="clips", clips=10, frames_per_clip=10, max_frames=7)
    p = plan(0.0, 100.0, s)
    assert len(p.times) == 7 and list(p.times) == sorted(p.times)
    assert len(plan(0.0, 10.0, VideoSettings(num_frames=50, max_frames=5)).times) == 5


def test_settings_refuse_a_crop_larger_than_the_resize() -> None:
    with pytest.raises(ValueError, match="crop_size"):
        VideoSettings(short_side=128, crop_size=224)
    with pytest.raises(ValueError):
        plan(0.0, 0.0, VideoSettings())
