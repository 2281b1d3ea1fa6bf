"""The audio loader on real Tux Paint sounds and on the awkward files it must survive."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from unibind.errors import InputError
from unibind.plugins import get_registry
from unibind_plugin_audio.clips import clip_starts, clip_waveforms
from unibind_plugin_audio.loading import AudioModality, readable_suffixes
from unibind_plugin_audio.settings import AudioLoadSettings, ClipSettings


def test_real_stereo_ogg_is_mixed_down_at_its_own_rate(sound) -> None:
    path = sound("firetruck")  # Tux Paint's fire truck: OGG/Vorbis, stereo, 44.1 kHz, 10.3 s
    both, rate = sf.read(str(path), dtype="float32", always_2d=True)
    sample = AudioModality().load(path)
    assert sample.source.channels == 2 and both.shape[1] == 2
    assert sample.sample_rate == rate == 44100 and not sample.streamed
    assert torch.allclose(sample.waveform, torch.from_numpy(both.mean(axis=1)), atol=1e-6)
    left = AudioModality(AudioLoadSettings(channel=0)).load(path)
    assert torch.allclose(left.waveform, torch.from_numpy(both[:, 0]))
    with pytest.raises(InputError, match="has 2 channel"):
        AudioModality(AudioLoadSettings(channel=2)).load(path)


def test_resampling_when_loading(sound, tmp_path: Path) -> None:
    sample = AudioModality(AudioLoadSettings(sample_rate=16000)).load(sound("cow"))
    assert sample.sample_rate == 16000
    assert abs(sample.duration - sample.source.duration) < 1e-3
    # an expectation independent of the resampler: a 440 Hz tone written at 44.1 kHz and loaded at
    # 16 kHz is that tone sampled at 16 kHz (away from the edges, where the filter lacks context)
    path = tmp_path / "tone.wav"
    sf.write(str(path), (0.5 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)).astype(np.float32), 44100,
             subtype="FLOAT")
    tone = AudioModality(AudioLoadSettings(sample_rate=16000)).load(path)
    want = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert tone.sample_rate == 16000 and tone.waveform.shape == (16000,)
    assert np.abs(tone.waveform.numpy()[200:-200] - want[200:-200]).max() < 1e-2


@pytest.mark.parametrize(("fmt", "subtype", "suffix"), [
    ("WAV", "PCM_16", ".wav"), ("WAV", "FLOAT", ".wav"), ("FLAC", "PCM_24", ".flac"),
    ("OGG", "VORBIS", ".ogg"), ("MP3", "MPEG_LAYER_III", ".mp3"),
])
def test_every_format_reads_the_same_real_sound(sound, tmp_path: Path, fmt, subtype, suffix) -> None:
    """Tux Paint's dog, re-encoded with soundfile into each format, loads to the same sound."""
    data, rate = sf.read(str(sound("dog")), dtype="float32")
    path = tmp_path / f"dog{suffix}"
    sf.write(str(path), data, rate, format=fmt, subtype=subtype)
    sample = AudioModality().load(path)
    assert sample.sample_rate == rate
    wave = sample.waveform.numpy()
    if fmt == "MP3":  # lossy, with encoder delay: compare loudness and length, not samples
        assert abs(len(wave) - len(data)) < 0.05 * rate
        assert abs(np.sqrt((wave ** 2).mean()) - np.sqrt((data ** 2).mean())) < 0.1 * np.abs(data).max()
    elif fmt == "OGG":
        assert len(wave) == len(data) and np.corrcoef(wave, data)[0, 1] > 0.95
    else:  # lossless, but integer formats saturate decoded Vorbis overshoots at full scale
        expected = data if subtype == "FLOAT" else np.clip(data, -1.0, 1.0)
        assert np.allclose(wave, expected, atol=1e-4)


def test_mp3_is_read_because_the_bundled_libsndfile_has_it() -> None:
    assert "MP3" in sf.available_formats(), "soundfile's libsndfile lost MP3 support"
    assert ".mp3" in readable_suffixes()
    assert ".mp3" in get_registry().get("modality", "audio").suffixes


def test_very_short_file_is_kept_and_padded(tmp_path: Path) -> None:
    path = tmp_path / "click.wav"
    sf.write(str(path), np.array([0.5], dtype="float32"), 16000)
    sample = AudioModality().load(path)
    assert sample.duration == pytest.approx(1 / 16000)
    clips = clip_waveforms(sample, ClipSettings(), 16000)
    assert clips.shape == (3, 32000)
    assert clips[:, 0].tolist() == pytest.approx([0.5] * 3, abs=1e-3) and not clips[:, 1:].any()


def test_silent_file_is_flagged_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(16000, dtype="float32"), 16000)
    sample = AudioModality().load(path)
    assert sample.flags.silent and sample.flags.peak == 0.0
    assert not AudioModality().load(_noise(tmp_path / "noise.wav", 0.1)).flags.silent


def test_clipped_file_is_kept_with_its_clipped_fraction(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    wave = np.clip(3.0 * np.sin(2 * np.pi * 50 * t), -1.0, 1.0).astype("float32")  # driven into the rails
    path = tmp_path / "clipped.wav"
    sf.write(str(path), wave, 16000, subtype="PCM_16")
    flags = AudioModality().load(path).flags
    expected = float((np.abs(wave) >= 0.999).mean())
    print(f"clipped fraction {flags.clipped_fraction:.3f} (expected ~{expected:.3f})")
    assert expected > 0.5 and flags.clipped_fraction == pytest.approx(expected, abs=0.02)
    assert AudioModality().load(_noise(tmp_path / "quiet.wav", 0.1)).flags.clipped_fraction == 0.0


def _noise(path: Path, amplitude: float, n: int = 16000) -> Path:
    rng = np.random.default_rng(0)
    sf.write(str(path), (amplitude * rng.uniform(-1, 1, n)).astype("float32"), 16000, subtype="FLOAT")
    return path


def test_a_few_nan_samples_are_zeroed_many_are_rejected(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    wave = (0.1 * rng.standard_normal(10000)).astype("float32")
    few = wave.copy()
    few[[10, 500, 9000]] = [np.nan, np.inf, -np.inf]
    sf.write(str(tmp_path / "few.wav"), few, 16000, subtype="FLOAT")
    sample = AudioModality().load(tmp_path / "few.wav")
    assert sample.flags.nonfinite_replaced == 3 and torch.isfinite(sample.waveform).all()
    assert sample.waveform[[10, 500, 9000]].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(InputError, match=r"3 of 10000 samples are NaN or infinite"):
        AudioModality(AudioLoadSettings(max_nonfinite_fraction=0)).load(tmp_path / "few.wav")
    many = wave.copy()
    many[::10] = np.nan
    sf.write(str(tmp_path / "many.wav"), many, 16000, subtype="FLOAT")
    with pytest.raises(InputError, match=r"1000 of 10000 samples .*10\.0%") as err:
        AudioModality().load(tmp_path / "many.wav")
    assert str(tmp_path / "many.wav") in str(err.value)


@pytest.mark.parametrize(("suffix", "fmt", "subtype"), [(".wav", "WAV", "PCM_16"), (".mp3", "MP3", "MPEG_LAYER_III"),
                                                         (".flac", "FLAC", "PCM_16"), (".ogg", "OGG", "VORBIS")])
def test_truncated_files_are_rejected(tone, tmp_path: Path, suffix, fmt, subtype) -> None:
    good = tmp_path / f"good{suffix}"
    t = np.arange(32000) / 16000
    sf.write(str(good), (0.5 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 16000, format=fmt, subtype=subtype)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(InputError) as err:
        AudioModality().load(cut)
    print(f"{suffix}: {err.value.problem}")
    assert str(cut) in str(err.value)


def test_empty_and_foreign_files_get_clear_errors(tmp_path: Path) -> None:
    header_only = tmp_path / "header.wav"
    sf.write(str(header_only), np.zeros(0, dtype="float32"), 16000)
    with pytest.raises(InputError, match="no audio frames"):
        AudioModality().load(header_only)
    text = tmp_path / "notes.ogg"
    text.write_text("not audio at all\n" * 10)
    with pytest.raises(InputError, match=r"not a readable audio file .*formats read here: .*OGG"):
        AudioModality().load(text)


# -- huge files: streamed, never read whole ------------------------------------------------------

def _write_sweep(path: Path, minutes: float, rate: int = 8000) -> tuple[float, float]:
    """Simulated long recording: a tone whose pitch rises linearly with time (200 Hz + 1 Hz per s).

    Written block by block, so the test itself never holds it whole either.
    """
    seconds = minutes * 60
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_16") as fh:
        block = 60 * rate
        for start in range(0, int(seconds * rate), block):
            t = (start + np.arange(min(block, int(seconds * rate) - start))) / rate
            phase = 2 * np.pi * (200 * t + 0.5 * t ** 2)  # instantaneous frequency 200 + t Hz
            fh.write((0.5 * np.sin(phase)).astype("float32"))
    return seconds, float(rate)


def _pitch(clip: torch.Tensor, rate: int) -> float:
    spectrum = torch.fft.rfft(clip * torch.hann_window(len(clip))).abs()
    return float(spectrum.argmax()) * rate / len(clip)


def test_huge_file_is_streamed_by_clip_positions(tmp_path: Path) -> None:
    """A simulated 40-minute recording: only the three 2-s clips are decoded, at the right places."""
    path = tmp_path / "long.wav"
    seconds, rate = _write_sweep(path, minutes=40)
    total = int(seconds * rate)
    tracemalloc.start()
    sample = AudioModality().load(path)  # default max_seconds=60
    settings = ClipSettings()
    clips = clip_waveforms(sample, settings, 16000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"simulated {seconds / 60:.0f} min file: {sample.frames_read} of {total} frames decoded "
          f"({sample.frames_read / total:.3%}), peak traced memory {peak / 1e6:.1f} MB")
    assert sample.streamed and sample.duration == pytest.approx(seconds)
    assert sample.frames_read < 4 * 2 * rate  # three clips plus resampling margins
    assert peak < 5e6  # the whole file would be 77 MB as float32
    for clip, start in zip(clips, clip_starts(seconds, settings)):
        expected = 200 + start + settings.clip_seconds / 2  # the sweep's pitch in the clip's middle
        assert _pitch(clip, 16000) == pytest.approx(expected, abs=3.0), f"clip at {start:.0f} s"
    with pytest.raises(InputError, match="longer than max_seconds"):
        sample.at_rate(16000)


def test_streamed_excerpts_equal_the_decoded_ones(sound) -> None:
    """Streaming (seek + read + resample) gives exactly what decoding the real file whole gives."""
    path = sound("firetruck")
    whole = AudioModality().load(path)
    streamed = AudioModality(AudioLoadSettings(max_seconds=1.0)).load(path)
    assert streamed.streamed and not whole.streamed
    for start in (0.0, 3.3337, 9.5):
        for rate in (16000, 44100, 48000):
            a, b = whole.excerpt(start, 2.0, rate), streamed.excerpt(start, 2.0, rate)
            assert a.shape == b.shape == (round(2.0 * rate),)
            assert torch.allclose(a, b, atol=1e-5), (start, rate)
    assert streamed.frames_read < whole.frames_read * 2  # 9 excerpts of 2 s out of 10.3 s


def test_odd_sample_rates_resample_cheaply_and_in_tune(sound, tone, tmp_path: Path) -> None:
    """11127 Hz (a real Tux Paint file's rate) would need a 0.7-GB torchaudio kernel; the ratio is rounded."""
    import time

    from unibind_plugin_audio.resampling import MAX_PHASES, resample_ratio

    p, q = resample_ratio(11127, 16000)
    assert p <= MAX_PHASES and q <= MAX_PHASES and abs(p / q - 11127 / 16000) < 1e-5 * 11127 / 16000
    assert resample_ratio(44100, 16000) == (441, 160)  # exact where it is cheap
    real = AudioModality().load(sound("xing_school"))
    assert real.sample_rate == 11127
    start = time.perf_counter()
    wave = real.at_rate(16000)
    print(f"11127 -> 16000 Hz for {real.duration:.2f} s of audio: {1000 * (time.perf_counter() - start):.1f} ms")
    assert abs(len(wave) - real.duration * 16000) <= 2
    sample = AudioModality().load(tone(tmp_path / "odd.wav", rate=11127, freq=1000.0, seconds=2.0))
    assert _pitch(sample.at_rate(16000)[:16000], 16000) == pytest.approx(1000.0, abs=1.5)
