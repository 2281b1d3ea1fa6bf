"""What the depth plugin registers: hook implementations only.

The core imports this module (the entry point) to learn what the plugin
provides, so it imports nothing heavy: every spec names its loader, encoder
and settings as ``"module:attr"`` strings that load on first use.
"""

from __future__ import annotations

from unibind import EncoderSpec, ModalitySpec, hookimpl


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="depth",
        factory="unibind_plugin_depth.loading:DepthModality",
        settings="unibind_plugin_depth.settings:DepthSettings",
        # Plain ".png" belongs to the image modality; a 16-bit depth PNG is read when depth is
        # chosen explicitly, or by its own double suffix where the core matches those.
        suffixes=(".npy", ".depth.png"),
        media_types=("application/x-npy",),
        templates="unibind_plugin_depth.templates:DEPTH_TEMPLATES",
        summary="depth maps: .npy (float metres or integer units) and 16-bit PNG (Kinect/NYU millimetres)",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="depth-render",
        modality="depth",
        dim=None,  # that of the image encoder it renders for
        default=True,
        factory="unibind_plugin_depth.encoder:build_depth_render",
        settings="unibind_plugin_depth.settings:DepthRenderSettings",
        weights="none of its own: those of the chosen image encoder (default: the image modality's)",
        summary="renders depth as a near-is-bright picture and embeds it with a registered image encoder",
    ))
