"""A video's sound, read with PyAV and handed to the audio plugin: one instance, two modalities.

The video plugin does not import the audio plugin: it asks the registry for
the ``audio`` modality and an audio encoder, so the track is embedded exactly
as an audio file would be. Without the audio plugin the error says so.
"""

from __future__ import annotations

import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch

from unibind.errors import InputError, NotRegisteredError
from unibind.registry import Registry
from unibind.results import Failure
from unibind_plugin_video.decoding import _reason, open_media
from unibind_plugin_video.sample import AudioTrack, VideoSample
from unibind_plugin_video.settings import AudioTrackSettings

NO_AUDIO_PLUGIN = ("the video's audio track is embedded by the audio plugin, and no 'audio' modality is "
                   "registered: install unibind-plugin-audio (and enable it if UNIBIND_PLUGINS is set)")


def read_audio_track(path: str | Path, settings: AudioTrackSettings | None = None) -> AudioTrack:
    """The first audio stream of ``path`` as float32 ``[channels, samples]``, cut at ``max_seconds``.

    Decoded frame by frame and resampled on the way (FFmpeg's resampler), so
    a long soundtrack is never held beyond the limit.
    """
    settings = settings or AudioTrackSettings()
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty")
    with open_media(path) as container:
        if not container.streams.audio:
            raise InputError(path, "the video has no audio track")
        stream = container.streams.audio[0]
        rate = settings.sample_rate or stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="fltp", layout="mono" if settings.mono else None, rate=rate)
        limit = int(settings.max_seconds * rate)
        chunks: list[np.ndarray] = []
        have = 0
        truncated = False
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    have += chunks[-1].shape[-1]
                if have >= limit:
                    truncated = True
                    break
            else:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray())
        except av.error.FFmpegError as exc:
            raise InputError(path, f"audio track is corrupt: {_reason(exc)}") from exc
    if not chunks:
        raise InputError(path, "the audio track holds no samples")
    waveform = np.concatenate(chunks, axis=-1)[:, :limit].astype(np.float32, copy=False)
    return AudioTrack(np.ascontiguousarray(waveform), int(rate), truncated)


def write_wav(track: AudioTrack, path: Path) -> Path:
    """16-bit PCM WAV (what every audio reader takes), clipped to [-1, 1]."""
    pcm = (np.clip(track.waveform, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(pcm.shape[0])
        out.setsampwidth(2)
        out.setframerate(track.sample_rate)
        out.writeframes(pcm.T.tobytes())
    return path


def audio_plugin_available(registry: Registry | None = None) -> bool:
    """Whether an ``audio`` modality is registered (the audio plugin is installed and enabled)."""
    registry = registry or _registry()
    return any(spec.name == "audio" for spec in registry.by_kind("modality"))


def _registry() -> Registry:
    from unibind.plugins import get_registry

    return get_registry()


@dataclass
class TrackEmbeddings:
    """Audio-track embeddings of the videos that have one, and the ones that failed."""

    vectors: torch.Tensor
    sources: list[str]
    failures: list[Failure] = field(default_factory=list)


class VideoAudio:
    """Reads video soundtracks and embeds them with the registry's audio loader and encoder."""

    def __init__(self, settings: AudioTrackSettings | None = None, registry: Registry | None = None):
        self.settings = settings or AudioTrackSettings()
        registry = registry or _registry()
        if not audio_plugin_available(registry):
            raise NotRegisteredError(NO_AUDIO_PLUGIN)
        self.loader = registry.get("modality", "audio").build()
        name = self.settings.audio_encoder
        spec = registry.get("encoder", name) if name else registry.default("encoder", "audio")
        self.encoder_name = spec.name
        self.encoder = spec.build(self.settings.audio_encoder_settings or None)
        self._tmp = tempfile.TemporaryDirectory(prefix="unibind-video-audio-")
        self._written = 0

    def sample(self, track: AudioTrack, source: str | Path = "audio-track") -> Any:
        """The audio plugin's own sample of ``track``, made by its loader.

        A loader with ``from_waveform(waveform, sample_rate)`` gets the samples
        directly; any other reads a WAV written to this object's temporary
        folder, exactly as it reads files. The WAV is removed at once unless the
        sample still refers to it (a loader that streams long files).
        """
        from_waveform = getattr(self.loader, "from_waveform", None)
        if callable(from_waveform):
            return from_waveform(track.waveform, track.sample_rate)
        self._written += 1
        wav = write_wav(track, Path(self._tmp.name) / f"{self._written:06d}-{Path(source).stem or 'track'}.wav")
        try:
            sample = self.loader.load(wav)
        except InputError as exc:
            wav.unlink(missing_ok=True)
            raise InputError(source, f"audio track rejected by the audio loader: {exc.problem}") from exc
        if not getattr(sample, "streamed", False):
            wav.unlink(missing_ok=True)
        return sample

    def sample_of(self, video: VideoSample) -> Any:
        """The audio-plugin sample of a video sample loaded with ``VideoSettings(audio=True)``."""
        source = video.metadata.get("source", "video")
        if video.audio is None:
            raise InputError(source, "the video sample carries no audio track (no sound, or loaded "
                                     "without VideoSettings(audio=True))")
        return self.sample(video.audio, source)

    def load(self, path: str | Path) -> Any:
        """A video file's audio track as an audio-plugin sample."""
        return self.sample(read_audio_track(path, self.settings), path)

    @torch.inference_mode()
    def embed(self, paths: Sequence[str | Path]) -> TrackEmbeddings:
        """Embed each video's audio track; videos without sound are listed as failures."""
        samples, sources, failures = [], [], []
        for path in paths:
            try:
                samples.append(self.load(path))
                sources.append(str(path))
            except InputError as exc:
                failures.append(Failure(source=str(path), reason=exc.problem))
        dim = int(getattr(self.encoder, "dim", 0) or 0)
        vectors = self.encoder.encode(samples) if samples else torch.empty(0, dim)
        return TrackEmbeddings(vectors.float(), sources, failures)
