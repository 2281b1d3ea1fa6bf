"""Which moments of a video to look at: timestamps from a sampling strategy.

Pure arithmetic on the video's start and duration, so it is tested without
any file, and the decoder only ever visits these times.
"""

from __future__ import annotations

from dataclasses import dataclass

from unibind_plugin_video.settings import VideoSettings


@dataclass(frozen=True)
class SamplePlan:
    """Seconds (absolute stream time, ascending) to take a frame at, and the clip each belongs to."""

    times: tuple[float, ...]
    clips: tuple[int, ...]


def _centres(start: float, length: float, count: int) -> list[float]:
    """Centres of ``count`` equal parts of ``[start, start + length)``."""
    return [start + (i + 0.5) * length / count for i in range(count)]


def _evenly(items: list[float], count: int) -> list[int]:
    """Indices of ``count`` items spread evenly over ``items`` (all of them if there are fewer)."""
    n = len(items)
    if n <= count:
        return list(range(n))
    return [int((i + 0.5) * n / count) for i in range(count)]


def plan(start: float, duration: float, settings: VideoSettings) -> SamplePlan:
    """The timestamps ``settings`` asks for in a video starting at ``start`` lasting ``duration`` s."""
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if settings.sampling == "uniform":
        times = _centres(start, duration, min(settings.num_frames, settings.max_frames))
        clips = [0] * len(times)
    elif settings.sampling == "clips":
        # ImageBind / pytorchvideo ConstantClipsPerVideoSampler: clip starts spread evenly so the
        # first clip begins at the start and the last ends at the end (clips overlap in short videos)
        clip_len = min(settings.clip_duration, duration)
        last_start = duration - clip_len
        n = settings.clips
        starts = [start + (last_start * i / (n - 1) if n > 1 else last_start / 2) for i in range(n)]
        times, clips = [], []
        for index, clip_start in enumerate(starts):
            for t in _centres(clip_start, clip_len, settings.frames_per_clip):
                times.append(t)
                clips.append(index)
        if len(times) > settings.max_frames:
            keep = _evenly(times, settings.max_frames)
            times, clips = [times[i] for i in keep], [clips[i] for i in keep]
    else:  # fps
        count = int(duration * settings.fps)
        if count == 0:  # shorter than one period: its middle
            times = [start + duration / 2]
        else:
            times = [start + (k + 0.5) / settings.fps for k in range(count)]
        times = [times[i] for i in _evenly(times, settings.max_frames)]
        clips = [0] * len(times)
    order = sorted(range(len(times)), key=times.__getitem__)
    return SamplePlan(tuple(times[i] for i in order), tuple(clips[i] for i in order))
