"""Settings of every audio component, kept free of torch and numpy.

The specs point here, so the command line can show and validate audio settings
without importing the heavy modules. Defaults follow the recipes the weights
were trained with: ImageBind's Kaldi fbank for the spectrogram-image encoder,
the aisfx paper's mel spectrogram for aisfx, and the Hugging Face feature
extractor saved beside a CLAP or AST model for those.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AudioLoadSettings(BaseModel):
    """How one audio file becomes one mono sample."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int | None = Field(
        default=None, ge=1000,
        description="Resample to this rate (Hz) when loading, with torchaudio.functional.resample. "
        "None keeps the file's own rate: every encoder resamples to the rate its weights expect "
        "(16 kHz for the ImageBind recipe, 44.1 kHz for aisfx, 48 kHz for CLAP), so nothing is "
        "lost by resampling twice.",
    )
    channel: int | None = Field(
        default=None, ge=0,
        description="Which channel to keep. None mixes all channels down to mono by their mean.",
    )
    max_seconds: float = Field(
        default=60.0, gt=0,
        description="Files longer than this are not read whole: the sample keeps the open file's "
        "description and the encoder's clips are decoded on demand by seeking to their positions "
        "(soundfile seek + read of just those frames). Flags then describe the frames read.",
    )
    max_nonfinite_fraction: float = Field(
        default=0.01, ge=0, le=1,
        description="NaN/inf samples (possible in float WAV/FLAC) are replaced by 0 when they are at "
        "most this fraction of the samples read; more than that, the file is rejected with an "
        "InputError giving the count. 0 rejects any non-finite sample.",
    )
    silence_threshold: float = Field(
        default=1e-4, ge=0,
        description="A file whose peak |amplitude| is at most this (-80 dBFS) is flagged silent. "
        "Silent files are kept: every encoder returns finite embeddings for them.",
    )
    clip_level: float = Field(
        default=0.999, gt=0,
        description="Samples with |amplitude| at or above this count as clipped; their fraction "
        "is reported in the sample's flags (clipped audio is kept as it is).",
    )


ClipStrategy = Literal["uniform", "random", "centre"]


class ClipSettings(BaseModel):
    """Where the clips an encoder looks at are taken from in a file.

    'uniform' spreads the clips evenly from the start to the end (ImageBind's
    ConstantClipsPerVideoSampler: starts at k * (duration - clip) / (clips - 1)).
    'random' draws each start uniformly, reproducibly from ``seed`` and the file name.
    'centre' puts the clips back to back around the middle of the file.
    Clips running past the end of a short file are padded with silence.
    """

    model_config = ConfigDict(extra="forbid")

    clip_seconds: float = Field(default=2.0, gt=0, description="Length of one clip, in seconds.")
    clips_per_file: int = Field(default=3, ge=1, description="Clips taken from each file; their "
                                "embeddings are pooled.")
    strategy: ClipStrategy = Field(default="uniform", description="uniform | random | centre.")
    seed: int = Field(default=0, description="Seed of the 'random' strategy (mixed with the file name).")


class FbankSettings(BaseModel):
    """ImageBind's audio recipe: Kaldi-compatible log-mel filter bank, normalised.

    torchaudio.compliance.kaldi.fbank with htk_compat, Hanning window, no
    dither, no energy term, on the mean-removed waveform; padded or cut to
    ``target_length`` frames; normalised as (x - mean) / std (AudioSet
    statistics, std being twice AST's 4.569).
    """

    model_config = ConfigDict(extra="forbid")

    sample_rate: int = Field(default=16000, ge=1000, description="Rate the fbank is computed at (Hz).")
    num_mel_bins: int = Field(default=128, ge=8, description="Mel bands.")
    frame_length_ms: float = Field(default=25.0, gt=0, description="Analysis window (ms).")
    frame_shift_ms: float = Field(default=10.0, gt=0, description="Hop between frames (ms).")
    target_length: int = Field(default=204, ge=1, description="Frames per clip after padding/cutting "
                               "(204 x 10 ms = 2.04 s).")
    mean: float = Field(default=-4.268, description="Normalisation mean of the log-mel values.")
    std: float = Field(default=9.138, gt=0, description="Normalisation std of the log-mel values.")


class SpectrogramImageSettings(BaseModel):
    """The embedded default: log-mel spectrograms rendered as pictures for an image encoder."""

    model_config = ConfigDict(extra="forbid")

    clips: ClipSettings = Field(default_factory=ClipSettings, description="Clip sampling (ImageBind: "
                                "3 uniform clips of 2 s).")
    fbank: FbankSettings = Field(default_factory=FbankSettings, description="The log-mel recipe "
                                 "(ImageBind's).")
    image_encoder: str | None = Field(
        default=None, description="Registered image encoder to use; None: the image modality's default "
        "(efficientnet-lite0, whose ImageNet head lets the ImageNet bridge serve audio).",
    )
    image_encoder_settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings passed to that image encoder.",
    )
    whole_picture: bool = Field(
        default=True,
        description="Pass crop_pct=1.0 to image encoders whose settings have it (timm-based ones, e.g. "
        "the default), so their centre crop does not cut off the clip's ends and the extreme mel "
        "bands. Measured on Tux Paint sound effects: leave-one-out 1-NN accuracy 0.71 -> 0.79.",
    )
    image_size: int = Field(
        default=224, ge=16,
        description="Side of the square picture the spectrogram is stretched to before the image "
        "encoder's own preprocessing.",
    )
    value_range: tuple[float, float] = Field(
        default=(-1.5, 1.5),
        description="Normalised log-mel values mapped to black..white. Fixed (not per picture), so "
        "loudness is kept and a silent clip is one flat dark grey, never a division by zero.",
    )
    pooling: Literal["mean", "max"] = Field(default="mean", description="How clip embeddings are pooled.")


class AisfxSettings(BaseModel):
    """aisfx (Ma & Lerch, ISMIR 2022): a CNN trained on sound-effects libraries, 512-d.

    Its input is the paper's mel spectrogram, recomputed here with torchaudio:
    44.1 kHz, peak-normalised waveform, 2048-sample Hann window, hop 1024,
    96 HTK mel bands 0-22050 Hz with unit-sum filters, power, log10(1e4 x + 1),
    divided by 9.4578 (the paper's global maximum). One block is 100 frames
    (2.32 s); the embeddings of the blocks are pooled.
    """

    model_config = ConfigDict(extra="forbid")

    clips: ClipSettings = Field(
        default_factory=lambda: ClipSettings(clip_seconds=102399 / 44100),
        description="Clip sampling; the default clip is exactly one 100-frame block (2.32 s).",
    )
    pooling: Literal["mean", "max"] = Field(default="mean", description="How block embeddings are pooled.")


class HFAudioSettings(BaseModel):
    """A Hugging Face audio model (CLAP or AST) with the feature extractor saved beside it."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Hub name or local directory of the model and its feature extractor.")
    local_files_only: bool = Field(
        default=False, description="Never touch the network (set automatically for local paths).",
    )
    clips: ClipSettings | None = Field(
        default=None,
        description="Clips fed to the feature extractor, pooled after the model. None: one clip as "
        "long as the extractor's own input (10 s for CLAP, 10.24 s for AST), centred.",
    )
    normalize: bool = Field(default=True, description="L2-normalise the output features.")


class ClapSettings(HFAudioSettings):
    """CLAP's audio tower (get_audio_features): in CLAP's audio-text space, zero-shot capable."""


class ASTSettings(HFAudioSettings):
    """Audio Spectrogram Transformer: pooled output ((CLS + distillation token) / 2)."""

    normalize: bool = Field(default=False, description="L2-normalise the output features.")
