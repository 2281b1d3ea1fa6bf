"""The video loader: one file in, a :class:`VideoSample` of a few sampled frames out."""

from __future__ import annotations

from pathlib import Path

import torch

from unibind.errors import InputError
from unibind.modality import Modality
from unibind_plugin_video.audio_track import read_audio_track
from unibind_plugin_video.decoding import check_container, decode_at, open_media, probe, video_stream
from unibind_plugin_video.sample import VideoSample
from unibind_plugin_video.sampling import plan
from unibind_plugin_video.settings import AudioTrackSettings, VideoSettings

__all__ = ["VideoModality", "VideoSample", "VideoSettings"]


class VideoModality(Modality):
    """Reads mp4, webm, avi, mkv and mov files with PyAV, keeping only the sampled frames."""

    name = "video"

    def __init__(self, settings: VideoSettings | None = None):
        super().__init__(settings or VideoSettings())
        self.settings: VideoSettings

    def read(self, path: Path) -> VideoSample:
        settings = self.settings
        with open_media(path) as container:
            if settings.strict_container:
                check_container(path, container)
            stream = video_stream(path, container)
            info = probe(path, container, stream)
            ctx = stream.codec_context
            ctx.thread_count = settings.decode_threads
            if settings.decode_threads != 1:
                ctx.thread_type = "AUTO"
            if info.width <= 0 or info.height <= 0:
                raise InputError(path, f"video stream has no picture size ({info.width}x{info.height})")
            wanted = plan(info.start, info.duration, settings)
            decoded = decode_at(path, container, stream, wanted.times, info, settings)
        audio = None
        if settings.audio and info.audio_streams:
            audio = read_audio_track(path, AudioTrackSettings(
                sample_rate=settings.audio_sample_rate, max_seconds=settings.audio_max_seconds))
        metadata = {**info.as_dict(), "source": str(path), "sampling": settings.sampling,
                    "decoded_frames": decoded.decoded_frames, "seeks": decoded.seeks}
        return VideoSample(torch.from_numpy(decoded.frames), decoded.times, list(wanted.clips), metadata, audio)
