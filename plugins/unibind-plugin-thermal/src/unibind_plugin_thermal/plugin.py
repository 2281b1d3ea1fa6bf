"""Hook implementations of the thermal plugin: registration only, nothing heavy imported."""

from __future__ import annotations

from unibind import EncoderSpec, ModalitySpec, hookimpl

_PKG = "unibind_plugin_thermal"


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="thermal", factory=f"{_PKG}.loading:ThermalModality", settings=f"{_PKG}.settings:ThermalLoadSettings",
        # Plain .png/.tif belong to the image modality: thermal files are read when thermal is chosen
        # explicitly (`unibind embed thermal ...`) or by these double suffixes (the longest suffix wins).
        suffixes=(".thermal.png", ".thermal.tif", ".thermal.tiff", ".thermal.jpg", ".thermal.jpeg"),
        media_types=("image/png", "image/tiff", "image/jpeg"),
        templates=f"{_PKG}.templates:THERMAL_TEMPLATES",
        summary="8/16-bit single-channel PNG/TIFF (radiometric counts kept), float TIFF (°C), "
                "colour renderings (luminance or colour-map inversion)",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="thermal-image", modality="thermal", dim=None, default=True,
        factory=f"{_PKG}.encoders:build_thermal_image", settings=f"{_PKG}.settings:ThermalImageSettings",
        weights="none of its own: those of the chosen image encoder (default: the image modality's, "
                "EfficientNet-Lite0, Apache-2.0, offline)",
        summary="contrast-normalised grey frame (ImageBind-style 0.5/0.5, 3 channels) into a registered "
                "image encoder",
    ))
    register(EncoderSpec(
        name="hf-thermal", modality="thermal", dim=None,
        factory=f"{_PKG}.encoders:build_hf_thermal", settings=f"{_PKG}.settings:HFThermalSettings",
        weights="any Hugging Face CLIP/SigLIP model by name (needs a network) or local path, through the "
                "image plugin's hf-vision encoder; licence per model",
        summary="Hugging Face CLIP/SigLIP image tower on the normalised thermal frame",
    ))

