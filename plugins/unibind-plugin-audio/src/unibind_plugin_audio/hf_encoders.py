"""Hugging Face audio encoders: CLAP (audio-text, zero-shot capable) and AST, by name or local path.

Each model brings its own feature extractor (saved beside the weights), and
the encoder uses it unchanged: CLAP's 48 kHz log-mel with its own
repeat-padding, AST's 16 kHz Kaldi fbank with AudioSet normalisation. What
the encoder decides is only *which audio* the extractor sees: by default one
clip as long as the extractor's input (10 s for CLAP, 10.24 s for AST) from
the middle of the file; with ``clips`` set, several clips whose outputs are
mean-pooled. Clips are passed unpadded, so each extractor pads its own way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from unibind.devices import module_device, to_device, to_host
from unibind.encoders.base import Encoder
from unibind.errors import UniBindError
from unibind_plugin_audio.clips import clip_starts
from unibind_plugin_audio.sample import AudioSample
from unibind_plugin_audio.settings import ASTSettings, ClapSettings, ClipSettings, HFAudioSettings

#: Clips shorter than this are padded with silence, so every extractor gets at least one frame.
MIN_CLIP_SECONDS = 0.1


def _offline(settings: HFAudioSettings) -> bool:
    return (settings.local_files_only or Path(settings.model).exists()
            or os.environ.get("HF_HUB_OFFLINE") == "1")


class HFAudioEncoder(Encoder):
    """Shared loading, clipping and pooling; subclasses say which model type and which output."""

    modality = "audio"
    model_types: tuple[str, ...] = ()
    #: The name of the feature extractor's output the model takes.
    input_key = "input_features"

    def __init__(self, settings: HFAudioSettings):
        super().__init__()
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

        from unibind.encoders.text import quiet_transformers

        quiet_transformers()
        self.settings = settings
        self.source = settings.model
        offline = _offline(settings)
        config = AutoConfig.from_pretrained(settings.model, local_files_only=offline)
        if config.model_type not in self.model_types:
            raise UniBindError(f"{settings.model}: a {config.model_type!r} model, but this encoder "
                               f"reads {' or '.join(self.model_types)} models")
        self.model = AutoModel.from_pretrained(settings.model, local_files_only=offline).float()
        self.extractor = AutoFeatureExtractor.from_pretrained(settings.model, local_files_only=offline)
        self.rate = int(self.extractor.sampling_rate)
        self.clips = settings.clips or ClipSettings(clip_seconds=self.input_seconds(), clips_per_file=1,
                                                    strategy="centre")
        self.dim = self.feature_dim()
        self.freeze()

    # -- what subclasses say ----------------------------------------------------------------
    def input_seconds(self) -> float:
        """How much audio the feature extractor turns into one full input."""
        raise NotImplementedError

    def feature_dim(self) -> int:
        raise NotImplementedError

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    # -- the encoder interface --------------------------------------------------------------------
    def clip_arrays(self, sample: AudioSample) -> list[Any]:
        """The clips the extractor sees, unpadded (at least MIN_CLIP_SECONDS), as numpy arrays."""
        starts = clip_starts(sample.duration, self.clips, key=Path(sample.source.path).name)
        minimum = round(MIN_CLIP_SECONDS * self.rate)
        arrays = []
        for start in starts:
            seconds = min(self.clips.clip_seconds, max(sample.duration - start, 0.0))
            piece = sample.excerpt(start, seconds, self.rate)
            if piece.shape[-1] < minimum:
                piece = F.pad(piece, (0, minimum - piece.shape[-1]))
            arrays.append(piece.numpy())
        return arrays

    def extractor_options(self) -> dict[str, Any]:
        return {}

    def preprocess(self, sample: AudioSample) -> dict[str, torch.Tensor]:
        out = self.extractor(self.clip_arrays(sample), sampling_rate=self.rate, return_tensors="pt",
                             **self.extractor_options())
        return {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}

    def collate(self, items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return {key: torch.stack([item[key] for item in items]) for key in items[0]}

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        n, clips = batch[self.input_key].shape[:2]
        flat = {k: v.flatten(0, 1) for k, v in batch.items()}
        out = self.features(flat).view(n, clips, -1).mean(1)
        return F.normalize(out, dim=-1) if self.settings.normalize else out


class ClapEncoder(HFAudioEncoder):
    """CLAP's audio tower through its projection: comparable with CLAP's own text features."""

    model_types = ("clap",)

    def input_seconds(self) -> float:
        return float(self.extractor.nb_max_samples) / self.rate

    def feature_dim(self) -> int:
        return int(self.model.config.projection_dim)

    def extractor_options(self) -> dict[str, Any]:
        # 'fusion' input (4 stacked views) only fits a fusion model; our clips never exceed the
        # extractor's length, so 'rand_trunc' never draws at random here
        fused = bool(getattr(self.model.config.audio_config, "enable_fusion", False))
        return {} if fused else {"truncation": "rand_trunc"}

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.model.get_audio_features(**inputs)
        return out if isinstance(out, torch.Tensor) else out.pooler_output  # transformers 5: an output object

    @torch.inference_mode()
    def text_features(self, texts: Sequence[str], tokenizer: Any = None) -> torch.Tensor:
        """CLAP's text tower on ``texts``, in the same space as :meth:`forward` (normalised likewise)."""
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(self.settings.model, local_files_only=_offline(self.settings))
        tokens = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
        tokens = to_device({k: tokens[k] for k in ("input_ids", "attention_mask")}, module_device(self.model))
        out = self.model.get_text_features(**tokens)
        out = out if isinstance(out, torch.Tensor) else out.pooler_output
        return to_host(F.normalize(out, dim=-1) if self.settings.normalize else out)

    @torch.inference_mode()
    def zero_shot(self, samples: Sequence[AudioSample], labels: Sequence[str], *,
                  template: str = "the sound of {label}", tokenizer: Any = None) -> torch.Tensor:
        """``[N, labels]`` probabilities from CLAP alone (its learned logit scale): no adapter, no training."""
        audio = F.normalize(self.encode(list(samples)), dim=-1)
        text = F.normalize(self.text_features([template.format(label=lb) for lb in labels], tokenizer), dim=-1)
        scale = self.model.logit_scale_a.exp().cpu()
        return (scale * audio @ text.T).softmax(dim=-1)


class ASTEncoder(HFAudioEncoder):
    """Audio Spectrogram Transformer: mean of the CLS and distillation tokens (ASTModel's pooler)."""

    model_types = ("audio-spectrogram-transformer",)
    input_key = "input_values"

    def input_seconds(self) -> float:
        # Kaldi framing: 25 ms windows every 10 ms; max_length frames cover this much audio
        return (int(self.extractor.max_length) - 1) * 0.010 + 0.025

    def feature_dim(self) -> int:
        return int(self.model.config.hidden_size)

    def features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(input_values=inputs["input_values"]).pooler_output


def build_clap(settings: ClapSettings, **_: Any) -> ClapEncoder:
    return ClapEncoder(settings)


def build_ast(settings: ASTSettings, **_: Any) -> ASTEncoder:
    return ASTEncoder(settings)
