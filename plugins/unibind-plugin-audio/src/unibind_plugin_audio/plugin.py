"""Hook implementations of the audio plugin: registration only, nothing heavy imported.

Every spec names its loader, encoder and settings as ``"module:attr"`` strings
that load on first use, so ``unibind list-plugins`` never imports torch,
soundfile or transformers.
"""

from __future__ import annotations

from unibind import EncoderSpec, ModalitySpec, hookimpl

_PKG = "unibind_plugin_audio"


@hookimpl
def unibind_modalities(register):
    register(ModalitySpec(
        name="audio", factory=f"{_PKG}.loading:AudioModality", settings=f"{_PKG}.settings:AudioLoadSettings",
        suffixes=(".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"),
        media_types=("audio/wav", "audio/x-wav", "audio/flac", "audio/ogg", "audio/opus", "audio/mpeg"),
        templates=f"{_PKG}.templates:AUDIO_TEMPLATES",
        summary="WAV, FLAC, OGG/Vorbis/Opus, MP3 (libsndfile >= 1.1) to mono; huge files streamed by clips",
    ))


@hookimpl
def unibind_encoders(register):
    register(EncoderSpec(
        name="spectrogram-image", modality="audio", dim=None, default=True, priority=0,
        factory=f"{_PKG}.spectrogram_image:build_spectrogram_image",
        settings=f"{_PKG}.settings:SpectrogramImageSettings",
        weights="none of its own: those of the chosen image encoder (default: the image modality's, "
                "EfficientNet-Lite0 ImageNet weights from PyPI, Apache-2.0)",
        summary="ImageBind log-mel clips drawn as pictures for a registered image encoder, clips pooled",
    ))
    register(EncoderSpec(
        name="aisfx", modality="audio", dim=512,
        factory=f"{_PKG}.aisfx_encoder:build_aisfx", settings=f"{_PKG}.settings:AisfxSettings",
        weights="optional PyPI package aisfx, installed with --no-deps (weights CC BY 4.0, "
                "A. B. Ma and A. Lerch, ISMIR 2022)",
        summary="aisfx sound-effects embedding, 512-d (optional: uv pip install --no-deps aisfx)",
    ))
    register(EncoderSpec(
        name="clap", modality="audio",
        factory=f"{_PKG}.hf_encoders:build_clap", settings=f"{_PKG}.settings:ClapSettings",
        weights="any Hugging Face CLAP model by name (needs a network) or local path; licence per model",
        summary="Hugging Face CLAP audio tower, in CLAP's audio-text space (zero-shot with its text tower)",
    ))
    register(EncoderSpec(
        name="ast", modality="audio",
        factory=f"{_PKG}.hf_encoders:build_ast", settings=f"{_PKG}.settings:ASTSettings",
        weights="any Hugging Face Audio Spectrogram Transformer by name (needs a network) or local path; "
                "licence per model",
        summary="Hugging Face AST (ASTModel / ASTForAudioClassification), pooled output",
    ))
