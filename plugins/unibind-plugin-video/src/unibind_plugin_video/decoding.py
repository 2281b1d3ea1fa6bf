"""PyAV decoding that visits only the sampled moments of a video.

A frame is converted to RGB (and resized by FFmpeg's scaler) only when it is
one of the sampled ones; everything else is decoded and dropped at once, and
long gaps are crossed by seeking to the keyframe before the next sampled time.
So memory holds the sampled frames plus one decoded frame, whatever the
video's length. Every FFmpeg error becomes an :class:`InputError` naming the
file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from unibind.errors import InputError
from unibind_plugin_video.settings import VideoSettings

#: Sampled times this far past the last frame (seconds, or frame periods, whichever is larger)
#: mean the file ends before its header says: truncated.
TRUNCATION_SLACK_S = 0.5
TRUNCATION_SLACK_FRAMES = 2


def _reason(exc: BaseException) -> str:
    """FFmpeg's own words, without PyAV's errno prefix noise."""
    text = getattr(exc, "strerror", None) or str(exc)
    return f"{type(exc).__name__}: {text}"


@contextmanager
def open_media(path: Path) -> Iterator[Any]:
    """Open ``path`` with FFmpeg; a file it cannot parse becomes an InputError."""
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise InputError(path, f"not a media file FFmpeg can read (unknown format, damaged header "
                               f"or truncated): {_reason(exc)}") from exc
    try:
        yield container
    finally:
        container.close()


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about its video stream (times in seconds)."""

    start: float
    duration: float
    fps: float | None
    width: int
    height: int
    codec: str
    container: str
    declared_frames: int
    audio_streams: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: FFmpeg demuxers that may read each suffix; anything else means FFmpeg guessed past a damaged header.
DEMUXERS = {
    ".mp4": {"mov", "mp4"}, ".m4v": {"mov", "mp4"}, ".mov": {"mov", "mp4"},
    ".mkv": {"matroska", "webm"}, ".webm": {"matroska", "webm"}, ".avi": {"avi"},
}


def check_container(path: Path, container: Any) -> None:
    """Refuse content that is not the container its suffix names.

    A damaged header makes FFmpeg probe the bytes and fall back to a raw
    stream (an AVI whose header is gone opens as a bare MPEG-4 stream), which
    would decode with a wrong frame rate and no timing: that is a corrupt
    file, not a video.
    """
    expected = DEMUXERS.get(path.suffix.lower())
    found = set(container.format.name.split(","))
    if expected and not expected & found:
        raise InputError(path, f"not a valid {path.suffix.lstrip('.').upper()} container: FFmpeg found "
                               f"'{container.format.name}' content instead (damaged header, or a "
                               f"mislabelled file; set strict_container=false to accept it)")


def _is_cover_art(stream: Any) -> bool:
    """An mp4/mkv audio file's embedded album picture is a 'video stream' of one still image."""
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except AttributeError:  # older PyAV without dispositions
        return False


def video_stream(path: Path, container: Any) -> Any:
    """The first real video stream, or an InputError saying what the file holds instead."""
    videos = [s for s in container.streams.video if not _is_cover_art(s)]
    if videos:
        return videos[0]
    audio = container.streams.audio
    if audio:
        codecs = ", ".join(sorted({s.codec_context.name for s in audio}))
        raise InputError(path, f"audio-only file: {len(audio)} audio stream(s) ({codecs}) and no video stream; "
                               "read it with the audio modality")
    kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
    raise InputError(path, f"no video stream in the file (streams: {kinds})")


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe(path: Path, container: Any, stream: Any) -> VideoInfo:
    """Start, duration, rate and size of ``stream``; scans packet headers if no duration is declared."""
    tb = stream.time_base
    start = _seconds(stream.start_time, tb)
    if start is None:
        start = container.start_time / av.time_base if container.start_time is not None else 0.0
    duration = _seconds(stream.duration, tb)
    if not duration and container.duration:
        duration = container.duration / av.time_base
    if not duration:
        duration = _scan_duration(container, stream, start)
        if not duration:
            raise InputError(path, "the video stream holds no frames (zero length)")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    ctx = stream.codec_context
    return VideoInfo(start=start, duration=duration, fps=float(rate) if rate else None,
                     width=int(ctx.width or 0), height=int(ctx.height or 0), codec=ctx.name,
                     container=container.format.name, declared_frames=int(stream.frames or 0),
                     audio_streams=len(container.streams.audio))


def _scan_duration(container: Any, stream: Any, start: float) -> float:
    """Duration from packet timestamps (demuxing only, nothing decoded), then rewind."""
    end = None
    for packet in container.demux(stream):
        if packet.pts is not None:
            stop = packet.pts + (packet.duration or 0)
            end = stop if end is None else max(end, stop)
    container.seek(0)
    return float(end * stream.time_base) - start if end is not None else 0.0


def _target_size(width: int, height: int, settings: VideoSettings) -> tuple[int, int]:
    if not settings.short_side:
        return width, height
    scale = settings.short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _centre_crop(image: np.ndarray, settings: VideoSettings) -> np.ndarray:
    if settings.crop != "center":
        return image
    h, w = image.shape[:2]
    side = min(settings.crop_size or min(h, w), h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def to_rgb(frame: Any, settings: VideoSettings) -> np.ndarray:
    """One decoded frame to uint8 ``[H, W, 3]``: scaled by FFmpeg (area filter), centre-cropped."""
    width, height = _target_size(frame.width, frame.height, settings)
    rgb = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    return np.ascontiguousarray(_centre_crop(rgb, settings))


@dataclass
class Decoded:
    """The sampled frames, their actual times, and how much work finding them took."""

    frames: np.ndarray
    times: list[float]
    decoded_frames: int
    seeks: int


def decode_at(path: Path, container: Any, stream: Any, targets: Sequence[float], info: VideoInfo,
              settings: VideoSettings) -> Decoded:
    """Decode the frame showing at each time in ``targets`` (ascending seconds), and nothing kept else.

    A frame shows from its timestamp until the next one; a target between two
    frames gets the earlier. Several targets may share a frame (short videos).
    """
    period = 1.0 / info.fps if info.fps else 0.04
    slack = max(TRUNCATION_SLACK_S, TRUNCATION_SLACK_FRAMES * period)
    kept: list[np.ndarray] = []
    times: list[float] = []
    decoded = seeks = 0
    frames: Iterator[Any] | None = None
    current: Any = None  # the last decoded frame: the one showing now
    current_time = -float("inf")
    pending: Any = None  # a frame read ahead that does not show yet
    current_rgb: np.ndarray | None = None
    ended = False

    def next_frame() -> Any:
        nonlocal decoded
        assert frames is not None
        try:
            frame = next(frames)
        except StopIteration:
            return None
        except av.error.FFmpegError as exc:
            when = f" after {current_time:.2f} s" if current is not None else ""
            raise InputError(path, f"video data is truncated or corrupt{when}: {_reason(exc)}") from exc
        decoded += 1
        return frame

    min_gap = settings.seek_threshold
    landed_from: float | None = None  # where decoding was before the last seek
    for target in targets:
        ahead = target - (current_time if current is not None else info.start)
        if frames is None or (ahead > min_gap and not ended):
            if ahead > min_gap and _seek(container, stream, target):
                seeks += 1
                landed_from = current_time
                current, current_time, current_rgb, pending, ended = None, -float("inf"), None, None, False
                frames = _decode(container, stream)
            elif frames is None:
                frames = _decode(container, stream)
        # read on while the next frame already shows at (or before) the target
        while not ended:
            if pending is None:
                pending = next_frame()
                if pending is None:
                    ended = True
                    break
            t = _frame_time(pending, current_time, period)
            if landed_from is not None:
                if t <= landed_from:  # the keyframe was behind us: seeking this far does not pay
                    min_gap = max(min_gap, target - t)
                landed_from = None
            if current is not None and t > target:
                break
            current, current_time, current_rgb, pending = pending, t, None, None
        if current is None:
            raise InputError(path, "no frame could be decoded (empty, truncated or corrupt video data)")
        if ended and target > current_time + period + slack:
            raise InputError(path, f"video ends at {current_time + period:.2f} s, but the file declares "
                                   f"{info.start + info.duration:.2f} s: truncated or damaged")
        if current_rgb is None:
            current_rgb = to_rgb(current, settings)
        kept.append(current_rgb)
        times.append(current_time)
    return Decoded(np.stack(kept), times, decoded, seeks)


def _decode(container: Any, stream: Any) -> Iterator[Any]:
    """Decoded frames until the end; FFmpeg's errors reach the caller, which knows the time."""
    try:
        yield from container.decode(stream)
    except av.error.EOFError:
        return


def _frame_time(frame: Any, previous: float, period: float) -> float:
    if frame.time is not None:
        return float(frame.time)
    return previous + period if previous > -float("inf") else 0.0


def _seek(container: Any, stream: Any, target: float) -> bool:
    """Seek to the keyframe at or before ``target`` seconds; False if the file cannot seek."""
    try:
        container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:
        return False
    return True
