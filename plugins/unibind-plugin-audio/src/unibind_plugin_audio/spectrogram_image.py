"""The spectrogram-image encoder: an ImageNet image encoder looking at log-mel spectrograms.

No general audio network ships with weights in a package we can depend on,
but ImageNet features read the shapes in a spectrogram (onsets, harmonics,
noise bands) well enough to tell sounds apart, as audio work with
ImageNet-initialised CNNs shows. Each clip's ImageBind fbank is drawn as a
picture (low frequencies at the bottom, fixed value range so loudness is
kept), the registered image encoder embeds it, and the clips are pooled. The
image encoder comes from the registry (by name or the image modality's
default), never imported from the image plugin; its ImageNet head is exposed,
so the training-free ImageNet bridge serves audio too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from unibind.encoders.base import Encoder, ImageBackedEncoder
from unibind_plugin_audio.clips import clip_waveforms
from unibind_plugin_audio.features import imagebind_fbank
from unibind_plugin_audio.sample import AudioSample
from unibind_plugin_audio.settings import SpectrogramImageSettings


def spectrogram_picture(logmel: torch.Tensor, settings: SpectrogramImageSettings) -> Image.Image:
    """Normalised log-mel ``[mels, frames]`` -> square RGB picture, low frequencies at the bottom."""
    low, high = settings.value_range
    scaled = ((logmel.flip(0) - low) / (high - low)).clamp(0.0, 1.0)
    size = settings.image_size
    scaled = F.interpolate(scaled[None, None], size=(size, size), mode="bilinear", align_corners=False)[0, 0]
    grey = (scaled * 255.0).round().to(torch.uint8).numpy()
    return Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2))  # uint8 [H, W, 3] is RGB


class SpectrogramImageEncoder(ImageBackedEncoder):
    """Audio -> clips -> ImageBind fbank pictures -> image encoder -> pooled ``[N, dim]``."""

    modality = "audio"
    needed_by = "spectrogram-image"

    def __init__(self, settings: SpectrogramImageSettings, image_encoder: Encoder, image_encoder_name: str = ""):
        super().__init__(settings, image_encoder, image_encoder_name)
        self.source = f"spectrogram-image:{getattr(image_encoder, 'source', type(image_encoder).__name__)}"

    def pictures(self, sample: AudioSample) -> list[Image.Image]:
        """The pictures the image encoder sees, one per clip (for inspection and tests)."""
        fb = self.settings.fbank
        clips = clip_waveforms(sample, self.settings.clips, fb.sample_rate)
        return [spectrogram_picture(imagebind_fbank(clip, fb), self.settings) for clip in clips]

    def preprocess(self, sample: AudioSample) -> torch.Tensor:
        return torch.stack([self.image.preprocess(p) for p in self.pictures(sample)])

    def collate(self, items: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(items))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        n, clips = batch.shape[:2]
        features = self.image(batch.flatten(0, 1)).view(n, clips, -1)
        return features.amax(1) if self.settings.pooling == "max" else features.mean(1)

    @classmethod
    def image_encoder_settings(cls, settings: SpectrogramImageSettings, spec: Any) -> dict[str, Any] | None:
        """The settings the image encoder is built with: the user's, plus ``crop_pct=1`` where it applies.

        An image encoder's centre crop (EfficientNet-Lite0: 87.5 %) would cut the
        first and last 0.13 s of each clip and the lowest and highest mel bands;
        a spectrogram has no border to spare, so encoders whose settings take a
        ``crop_pct`` see the whole picture unless the user says otherwise.
        """
        values = dict(settings.image_encoder_settings)
        model = spec.settings_model()
        if settings.whole_picture and model is not None and "crop_pct" in model.model_fields:
            values.setdefault("crop_pct", 1.0)
        return values or None


def build_spectrogram_image(settings: SpectrogramImageSettings, *,
                            image_encoder: Encoder | None = None, **_: Any) -> SpectrogramImageEncoder:
    """Factory of ``spectrogram-image``; pass ``image_encoder`` to share one already built."""
    return SpectrogramImageEncoder.from_settings(settings, image_encoder=image_encoder)
