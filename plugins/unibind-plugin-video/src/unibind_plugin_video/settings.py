"""Settings of every video component, importing only pydantic.

Specs name these models as ``"module:attr"``; ``unibind list-plugins`` and the
contract kit import them to show and round-trip defaults, so this module must
stay free of torch, numpy, PIL and av.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Sampling = Literal["uniform", "clips", "fps"]
Pooling = Literal["mean", "max", "first", "middle"]


class VideoSettings(BaseModel):
    """How one video file becomes a few RGB frames with their timestamps.

    Only the sampled frames are kept: the decoder seeks to each sampled time
    (when it lies more than ``seek_threshold`` seconds ahead) instead of decoding
    the whole file, so a long video costs about as much as a short one.
    """

    model_config = ConfigDict(extra="forbid")

    sampling: Sampling = Field(
        default="uniform",
        description="'uniform': num_frames frames at the centres of equal segments of the whole video. "
        "'clips': ImageBind's recipe, `clips` clips of clip_duration seconds spread evenly from start "
        "to end, frames_per_clip frames at the centres of equal parts of each clip. 'fps': frames every "
        "1/fps seconds, at most max_frames (spread evenly over the video when there would be more).",
    )
    num_frames: int = Field(default=8, ge=1, le=1024, description="'uniform': frames per video.")
    clips: int = Field(default=5, ge=1, le=256, description="'clips': clips per video (ImageBind: 5).")
    clip_duration: float = Field(default=2.0, gt=0, description="'clips': seconds per clip (ImageBind: 2).")
    frames_per_clip: int = Field(
        default=2, ge=1, le=256, description="'clips': frames sampled in each clip (ImageBind: 2)."
    )
    fps: float = Field(default=1.0, gt=0, description="'fps': frames per second of video.")
    max_frames: int = Field(
        default=64, ge=1, le=4096,
        description="Upper bound on frames per video for every strategy (memory guard for long videos).",
    )
    short_side: int | None = Field(
        default=224, ge=8,
        description="Resize each kept frame so its shorter side has this many pixels (aspect ratio kept, "
        "done by FFmpeg's scaler while converting to RGB). None: native size.",
    )
    crop: Literal["center", "none"] = Field(
        default="center", description="'center': cut a crop_size square from the middle; 'none': keep it all."
    )
    crop_size: int | None = Field(
        default=224, ge=8, description="Side of the centre crop in pixels; None: the resized short side."
    )
    seek_threshold: float = Field(
        default=2.0, ge=0,
        description="Seconds: a sampled time further ahead than this is reached by seeking to the keyframe "
        "before it; nearer ones by decoding on. Seeking skips work on long videos, decoding on is cheaper "
        "for short gaps.",
    )
    strict_container: bool = Field(
        default=True,
        description="Refuse a file whose content is not the container its suffix names (.mp4/.mov/.m4v: "
        "QuickTime/MP4, .mkv/.webm: Matroska, .avi: AVI). FFmpeg otherwise guesses past a damaged header "
        "and decodes a bare stream with invented timing.",
    )
    decode_threads: int = Field(
        default=1, ge=0,
        description="FFmpeg decoding threads per file (0: FFmpeg decides). 1 suits worker processes, "
        "which already decode files in parallel.",
    )
    audio: bool = Field(
        default=False,
        description="Also read the audio track into the sample (sample.audio), for the audio plugin.",
    )
    audio_sample_rate: int | None = Field(
        default=16_000, ge=1000, description="Audio track resampled to this rate (Hz); None: native rate."
    )
    audio_max_seconds: float = Field(
        default=60.0, gt=0, description="Audio track read from the start up to this many seconds (memory guard)."
    )

    @model_validator(mode="after")
    def _crop_fits(self) -> VideoSettings:
        if self.crop == "center" and self.crop_size and self.short_side and self.crop_size > self.short_side:
            raise ValueError(f"crop_size ({self.crop_size}) is larger than short_side ({self.short_side})")
        return self


class FramesEncoderSettings(BaseModel):
    """A registered image encoder run on every sampled frame, then pooled over time."""

    model_config = ConfigDict(extra="forbid")

    image_encoder: str | None = Field(
        default=None, description="Registered image encoder to run per frame; None: the image modality's default."
    )
    image_encoder_settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings passed to that image encoder."
    )
    pooling: Pooling = Field(
        default="mean",
        description="How per-frame features become one vector: 'mean' (default; ImageBind averages its "
        "clips the same way), 'max' (element-wise), 'first' or 'middle' frame only.",
    )
    frame_batch_size: int = Field(
        default=64, ge=1, description="Frames per forward pass of the image encoder (memory bound)."
    )


class XCLIPSettings(BaseModel):
    """Hugging Face X-CLIP: video features in X-CLIP's own video-text space."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        default="microsoft/xclip-base-patch32",
        description="Hub name (needs a network the first time) or local folder with the model and its processor.",
    )
    local_files_only: bool = Field(
        default=False, description="Never reach the hub (also implied by HF_HUB_OFFLINE=1 or a local path)."
    )
    num_frames: int | None = Field(
        default=None, ge=1,
        description="Frames given to the model; None: the model's own (vision_config.num_frames, 8 for "
        "xclip-base-patch32). Samples with other counts are resampled evenly in time.",
    )
    normalize: bool = Field(default=True, description="L2-normalise the video features.")


class AudioTrackSettings(BaseModel):
    """How the audio track of a video is read for the audio plugin."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int | None = Field(
        default=16_000, ge=1000, description="Resample to this rate (Hz); None: the track's own rate."
    )
    mono: bool = Field(default=True, description="Mix all channels down to one.")
    max_seconds: float = Field(
        default=60.0, gt=0, description="Read at most this many seconds from the start (memory guard)."
    )
    audio_encoder: str | None = Field(
        default=None, description="Registered audio encoder; None: the audio modality's default."
    )
    audio_encoder_settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings passed to that audio encoder."
    )
