"""Writing videos with PyAV, and simulated labelled clips made from real digit pictures.

No labelled video ships in any package, so tests and benchmarks make their
own: a real MNIST / Fashion-MNIST picture moving across a dark frame (the
Moving-MNIST recipe). The pictures are real, the motion is simulated, and
everything made here says "simulated" in its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

#: Codec per container, all encodable by the FFmpeg inside PyAV's wheels.
CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9", ".avi": "mpeg4"}
AUDIO_CODECS = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus", ".avi": "pcm_s16le"}


def write_video(path: str | Path, frames: np.ndarray | Sequence[np.ndarray], fps: float = 10.0, *,
                codec: str | None = None, gop: int | None = None, audio: np.ndarray | None = None,
                audio_rate: int = 16_000) -> Path:
    """Encode uint8 RGB ``frames`` ``[T, H, W, 3]`` (even H and W) to ``path``; optional mono ``audio``.

    ``gop`` is the keyframe interval in frames (seeking lands on keyframes).
    """
    path = Path(path)
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], got {frames.shape}")
    suffix = path.suffix.lower()
    codec = codec or CODECS.get(suffix, "libx264")
    # bitexact (no random segment id or muxing date: Matroska writes both) and one encoding thread: the same
    # frames give the same bytes, and a fuzzer seeded with them mutates the same files every run
    with av.open(str(path), mode="w", container_options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1   # threaded encoders' output varies with the machine's load
        if gop:
            stream.codec_context.gop_size = gop
        if codec == "libx264":
            # no lookahead and no macroblock tree: with them x264 can read uninitialised memory, so two runs
            # on the same frames differed and scripts/fuzz.py could not be reproduced
            stream.options = {"preset": "veryfast", "crf": "20", "threads": "1", "rc-lookahead": "0", "mbtree": "0",
                              **({"keyint_min": str(gop)} if gop else {})}
        audio_stream = None
        if audio is not None:
            audio_stream = out.add_stream(AUDIO_CODECS.get(suffix, "aac"),
                                          rate=48_000 if suffix == ".webm" else audio_rate)
            audio_stream.layout = "mono"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio_stream is not None:
            _encode_audio(out, audio_stream, np.asarray(audio, dtype=np.float32), audio_rate)
    return path


def _encode_audio(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
                  audio: np.ndarray, rate: int) -> None:
    resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=stream.rate)
    step = rate // 10
    for start in range(0, audio.shape[-1], step):
        frame = av.AudioFrame.from_ndarray(audio[None, start:start + step].copy(), format="fltp", layout="mono")
        frame.sample_rate = rate
        for converted in resampler.resample(frame):
            for packet in stream.encode(converted):
                out.mux(packet)
    for converted in resampler.resample(None):
        for packet in stream.encode(converted):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def moving_picture_frames(picture: np.ndarray, rng: np.random.Generator, *, frames: int = 16,
                          size: int = 64, scale: int = 1) -> np.ndarray:
    """A greyscale ``picture`` drifting in a straight line across a ``size``² frame, bouncing at the edges.

    Returns uint8 ``[frames, size, size, 3]``. Simulated motion of a real picture.
    """
    tile = np.kron(np.asarray(picture, dtype=np.uint8), np.ones((scale, scale), dtype=np.uint8))
    h, w = tile.shape
    room = np.array([size - h, size - w], dtype=np.float64)
    if (room < 0).any():
        raise ValueError(f"a {h}x{w} picture does not fit a {size}x{size} frame")
    position = rng.uniform(0, 1, 2) * room
    velocity = rng.uniform(-1, 1, 2)
    velocity *= room.max() / max(frames - 1, 1) / max(np.abs(velocity).max(), 1e-6)  # cross about once
    out = np.zeros((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        top, left = np.rint(position).astype(int)
        out[t, top:top + h, left:left + w] = tile[..., None]
        position += velocity
        for axis in range(2):  # bounce off the walls
            if position[axis] < 0 or position[axis] > room[axis]:
                velocity[axis] = -velocity[axis]
                position[axis] = np.clip(position[axis], 0, room[axis])
    return out


def write_simulated_clips(out_dir: str | Path, images: np.ndarray, labels: np.ndarray, *, per_class: int,
                          classes: Sequence[int] | None = None, seed: int = 0, frames: int = 16,
                          fps: float = 8.0, size: int = 64, suffix: str = ".mp4") -> list[tuple[Path, int]]:
    """Write ``per_class`` simulated moving-picture clips per class; returns ``(path, label)`` pairs.

    Files are named ``simulated-<label>-<index>.mp4``; each uses a different real picture.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    for label in (classes if classes is not None else sorted(set(labels.tolist()))):
        pool = np.flatnonzero(labels == label)
        for index, pick in enumerate(rng.choice(pool, size=per_class, replace=False)):
            clip = moving_picture_frames(images[pick], rng, frames=frames, size=size)
            path = write_video(out_dir / f"simulated-{label}-{index:03d}{suffix}", clip, fps)
            written.append((path, int(label)))
    return written
