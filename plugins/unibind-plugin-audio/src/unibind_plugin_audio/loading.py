"""The audio loader: WAV, FLAC, OGG (and MP3 where libsndfile has it) through soundfile.

One file becomes one :class:`~unibind_plugin_audio.sample.AudioSample`: mono
(channel mean, or one channel), optionally resampled, with flags for silence
and clipping. The rules for awkward files:

- very short (even one sample): kept; encoders pad their clips with silence;
- silent: kept and flagged ``silent``; encoders return finite embeddings;
- degenerate (silent, constant, a single sample): kept, with an
  :class:`~unibind.errors.InputWarning` that batch runs record with the result
  (all such files embed to nearly the same vector, which says nothing of their sound);
- clipped: kept as it is; the clipped fraction is in the flags;
- NaN/inf samples: zeroed when at most ``max_nonfinite_fraction`` of the
  samples, otherwise an InputError with the count;
- truncated: an InputError when fewer frames decode than the header declares
  (a WAV whose data chunk runs past the end of the file, an MP3 cut short);
- longer than ``max_seconds``: not decoded at load time; the sample reads
  the excerpts its encoder asks for by seeking.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from unibind.errors import InputError, InputWarning
from unibind.modality import Modality
from unibind_plugin_audio.resampling import resample
from unibind_plugin_audio.sample import AudioFlags, AudioSample, AudioSource, to_mono
from unibind_plugin_audio.settings import AudioLoadSettings

__all__ = ["AudioLoadSettings", "AudioModality", "AudioSample", "SUFFIXES", "readable_suffixes"]

#: File suffixes and the libsndfile format that must be present to read them.
SUFFIXES: dict[str, str] = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG", ".opus": "OGG",
                            ".mp3": "MP3"}
#: Decoded frames may fall this short of an MP3 header's estimate before the file counts as truncated.
_MP3_SLACK = 0.01


def readable_suffixes() -> tuple[str, ...]:
    """The suffixes the installed libsndfile can actually decode (MP3 needs libsndfile >= 1.1)."""
    formats = sf.available_formats()
    return tuple(s for s, fmt in SUFFIXES.items() if fmt in formats)


class AudioModality(Modality):
    """Reads one audio file into a mono :class:`AudioSample`."""

    name = "audio"

    def __init__(self, settings: AudioLoadSettings | None = None):
        super().__init__(settings or AudioLoadSettings())
        self.settings: AudioLoadSettings

    def read(self, path: Path) -> AudioSample:
        info = _info(path)
        source = AudioSource(path=str(path), format=info.format, subtype=info.subtype,
                             sample_rate=int(info.samplerate), channels=int(info.channels),
                             frames=int(info.frames))
        if source.frames <= 0:
            raise InputError(path, "contains no audio frames")
        if source.channels < 1:
            raise InputError(path, "declares no channels")
        _check_wav_complete(path)
        if source.duration > self.settings.max_seconds:
            return self._streamed(path, source)
        sample = self._decoded(path, source)
        problem = degenerate(sample)
        if problem:
            warnings.warn(InputWarning(path, problem), stacklevel=2)
        return sample

    def _streamed(self, path: Path, source: AudioSource) -> AudioSample:
        """A huge file: nothing decoded yet, but check that its last frames can be reached."""
        sample = AudioSample(None, source.sample_rate, source, settings=self.settings)
        with sf.SoundFile(path) as fh:
            fh.seek(max(0, source.frames - 1))
            if len(fh.read(1, dtype="float32")) != 1:
                raise InputError(path, f"declares {source.frames} frames but its end cannot be read")
        return sample

    def _decoded(self, path: Path, source: AudioSource) -> AudioSample:
        try:
            with sf.SoundFile(path) as fh:
                block = fh.read(dtype="float32", always_2d=True)
        except sf.LibsndfileError as exc:
            raise InputError(path, f"decoding failed part-way (truncated or corrupt?): "
                                   f"{str(exc).strip(' :').removeprefix('Error : ')}") from exc
        _check_complete(path, source, len(block))
        mono, replaced = to_mono(block, self.settings, path)
        del block
        rate = self.settings.sample_rate or source.sample_rate
        wave = torch.from_numpy(mono)
        sample = AudioSample(wave, source.sample_rate, source, settings=self.settings,
                             flags=AudioFlags(nonfinite_replaced=replaced), frames_read=len(mono))
        sample._note(mono)
        if rate != source.sample_rate:
            sample.waveform = resample(wave, source.sample_rate, rate)
            sample.sample_rate = rate
        return sample


def degenerate(sample: AudioSample) -> str | None:
    """Why a decoded sample holds no sound to embed (one sample, silence, a constant level), or None."""
    wave = sample.waveform
    if wave is None:
        return None
    threshold = sample.settings.silence_threshold
    if wave.shape[-1] < 2:
        return f"{wave.shape[-1]} sample: too short to hold a sound; its embedding is that of silence"
    if sample.flags.silent:
        return (f"silent (peak {sample.flags.peak:.1e}, at most silence_threshold={threshold:g}): "
                "its embedding says nothing about the sound")
    if float(wave.max() - wave.min()) <= threshold:
        return f"constant signal (every sample {float(wave[0]):.3g}): no sound to embed"
    return None


def _info(path: Path):
    try:
        return sf.info(str(path))
    except sf.LibsndfileError as exc:
        problem = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
        known = ", ".join(sorted({fmt for fmt in SUFFIXES.values() if fmt in sf.available_formats()}))
        raise InputError(path, f"not a readable audio file ({problem.strip()}); formats read here: "
                               f"{known}") from exc


def _check_complete(path: Path, source: AudioSource, decoded: int) -> None:
    declared = source.frames
    slack = int(declared * _MP3_SLACK) + 2304 if source.format == "MP3" else 0
    if decoded + slack < declared:
        raise InputError(path, f"truncated: the header declares {declared} frames, only {decoded} decode")


def _check_wav_complete(path: Path) -> None:
    """A RIFF/WAVE file whose data chunk claims more bytes than the file holds was cut short.

    libsndfile quietly shortens such a file to what is there, so the header is
    read here: walk the chunks to ``data`` and compare its declared size with
    the bytes after it. Sizes 0 and 0xFFFFFFFF (written by streaming
    recorders that never went back to fill them in) are not checked.
    """
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        size = path.stat().st_size
        offset = 12
        while offset + 8 <= size:
            fh.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
            if chunk_id == b"data":
                available = size - offset - 8
                if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > available:
                    raise InputError(path, f"truncated: the WAV data chunk declares {chunk_size} bytes, "
                                           f"the file holds {available}")
                return
            offset += 8 + chunk_size + (chunk_size & 1)


def write_wav(path: str | Path, waveform: np.ndarray | torch.Tensor, sample_rate: int,
              subtype: str = "PCM_16") -> Path:
    """Write a mono or ``[frames, channels]`` waveform with soundfile (tests, examples, conversions)."""
    data = waveform.numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    sf.write(str(path), data, sample_rate, subtype=subtype)
    return Path(path)
