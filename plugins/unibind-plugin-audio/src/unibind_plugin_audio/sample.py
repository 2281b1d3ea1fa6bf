"""One loaded audio file: a mono waveform (or, for a huge file, the means to read parts of it).

Encoders never touch the file themselves: they ask the sample for excerpts at
the rate they need (:meth:`AudioSample.excerpt`). A short file is decoded whole
when it is loaded; a file longer than the loader's ``max_seconds`` is
*streamed*: only the excerpts asked for are decoded, by seeking to them, so a
two-hour recording costs three two-second reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil
from pathlib import Path

import numpy as np
import torch

from unibind.errors import InputError
from unibind_plugin_audio.resampling import resample, resample_ratio
from unibind_plugin_audio.settings import AudioLoadSettings

#: Extra frames decoded on each side of a streamed excerpt before resampling it.
_RESAMPLE_MARGIN_FRAMES = 512


@dataclass(frozen=True)
class AudioSource:
    """What the file says about itself (soundfile's ``info``)."""

    path: str
    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


@dataclass
class AudioFlags:
    """What the loader noticed about the samples it decoded (all of them, or a streamed file's excerpts)."""

    silent: bool = False
    peak: float = 0.0
    clipped_fraction: float = 0.0
    nonfinite_replaced: int = 0


@dataclass
class AudioSample:
    """A mono waveform with its rate and origin; ``waveform`` is ``None`` while a huge file is streamed."""

    waveform: torch.Tensor | None
    sample_rate: int
    source: AudioSource
    settings: AudioLoadSettings = field(default_factory=AudioLoadSettings)
    flags: AudioFlags = field(default_factory=AudioFlags)
    #: Frames decoded from the file so far (all of them for a short file).
    frames_read: int = 0
    _by_rate: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    @property
    def streamed(self) -> bool:
        return self.waveform is None

    @property
    def duration(self) -> float:
        """Length in seconds (of the whole file, also when streamed)."""
        if self.waveform is None:
            return self.source.duration
        return self.waveform.shape[-1] / self.sample_rate

    def at_rate(self, rate: int) -> torch.Tensor:
        """The whole waveform resampled to ``rate`` (cached); refused for a streamed file."""
        if self.waveform is None:
            raise InputError(self.source.path, f"{self.duration:.0f} s is longer than max_seconds="
                             f"{self.settings.max_seconds:g}: read excerpts of it, not all of it")
        if rate == self.sample_rate:
            return self.waveform
        if rate not in self._by_rate:
            self._by_rate[rate] = resample(self.waveform, self.sample_rate, rate)
        return self._by_rate[rate]

    def excerpt(self, start: float, seconds: float, rate: int) -> torch.Tensor:
        """``round(seconds * rate)`` samples from ``start`` s on, at ``rate``; silence past the end."""
        length = max(1, round(seconds * rate))
        if self.waveform is not None:
            audio = self.at_rate(rate)
            first = max(0, round(start * rate))
            piece = audio[first:first + length]
        else:
            piece = self._read_streamed(start, length, rate)
        if piece.shape[-1] < length:
            piece = torch.nn.functional.pad(piece, (0, length - piece.shape[-1]))
        return piece

    def _read_streamed(self, start: float, length: int, rate: int) -> torch.Tensor:
        """Decode just the frames behind ``length`` output samples from ``start`` s, resampled to ``rate``.

        The output matches what resampling the whole file would give: decoding
        starts a margin early, at a frame where the two rates' sample grids
        meet, and the resampled block is cut at the same output index.
        """
        import soundfile as sf

        src = self.source
        first_out = max(0, round(start * rate))
        step_in, step_out = resample_ratio(src.sample_rate, rate)
        margin = _RESAMPLE_MARGIN_FRAMES if rate != src.sample_rate else 0
        begin = max(0, int((first_out * src.sample_rate / rate - margin) // step_in) * step_in)
        end = min(src.frames, ceil((first_out + length) * src.sample_rate / rate) + margin)
        if end <= begin:
            return torch.zeros(0)
        try:
            with sf.SoundFile(src.path) as fh:
                fh.seek(begin)
                block = fh.read(end - begin, dtype="float32", always_2d=True)
        except Exception as exc:  # noqa: BLE001 - a decoder error in the middle of a long file
            raise InputError(src.path, f"cannot decode {length / rate:g} s at {start:.1f} s: {exc}") from exc
        self.frames_read += len(block)
        mono, replaced = to_mono(block, self.settings, src.path)
        self.flags.nonfinite_replaced += replaced
        self._note(mono)
        wave = torch.from_numpy(mono)
        if rate != src.sample_rate:
            wave = resample(wave, src.sample_rate, rate)
        offset = first_out - begin // step_in * step_out
        return wave[offset:offset + length]

    def _note(self, mono: np.ndarray) -> None:
        """Fold freshly decoded samples into the flags (a streamed file's flags grow with each read)."""
        flags, settings = self.flags, self.settings
        before = self.frames_read - len(mono)
        peak = float(np.abs(mono).max()) if len(mono) else 0.0
        clipped = int((np.abs(mono) >= settings.clip_level).sum())
        flags.clipped_fraction = (flags.clipped_fraction * before + clipped) / max(self.frames_read, 1)
        flags.peak = max(flags.peak, peak)
        flags.silent = flags.peak <= settings.silence_threshold


def to_mono(block: np.ndarray, settings: AudioLoadSettings, path: str | Path) -> tuple[np.ndarray, int]:
    """``[frames, channels]`` -> ``[frames]`` float32 and how many non-finite samples became 0.

    Channels are picked or averaged; then the non-finite rule applies: NaN/inf
    become 0 up to ``max_nonfinite_fraction`` of the samples, beyond it the file
    is rejected.
    """
    channels = block.shape[1]
    if settings.channel is not None:
        if settings.channel >= channels:
            raise InputError(path, f"has {channels} channel(s); channel={settings.channel} asked for")
        mono = block[:, settings.channel]
    else:
        mono = block.mean(axis=1) if channels > 1 else block[:, 0]
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    bad = ~np.isfinite(mono)
    count = int(bad.sum())
    if count:
        fraction = count / len(mono)
        if fraction > settings.max_nonfinite_fraction:
            raise InputError(path, f"{count} of {len(mono)} samples are NaN or infinite ({fraction:.1%}, "
                             f"more than max_nonfinite_fraction={settings.max_nonfinite_fraction:g})")
        mono[bad] = 0.0
    return mono, count
