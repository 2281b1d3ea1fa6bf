"""Thermal encoders: normalise the frame to a grey picture, let a registered image encoder see it.

No thermal network ships with weights usable offline, but frozen image
encoders read the shapes of warm bodies well. So both encoders borrow one,
found through the registry, never imported from the image plugin:

- ``thermal-image``: any registered image encoder (the image modality's
  default unless named); its dimension, frozen weights and ImageNet head
  become this encoder's, so the image plugin's training-free ImageNet bridge
  can carry thermal features into the text space.
- ``hf-thermal``: a Hugging Face CLIP/SigLIP image tower by name or path,
  built as the image plugin's ``hf-vision`` encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from unibind.encoders.base import Encoder, ImageBackedEncoder
from unibind_plugin_thermal.frame import ThermalFrame
from unibind_plugin_thermal.normalise import imagebind_tensor, to_unit, unit_to_image
from unibind_plugin_thermal.settings import HFThermalSettings, ThermalImageSettings

HF_VISION = "hf-vision"


class ThermalImageEncoder(ImageBackedEncoder):
    """Thermal frame → contrast-normalised grey picture → image encoder → ``[N, dim]``."""

    modality = "thermal"
    needed_by = "thermal encoders"

    def __init__(self, settings: ThermalImageSettings | HFThermalSettings, image_encoder: Encoder,
                 image_encoder_name: str = ""):
        super().__init__(settings, image_encoder, image_encoder_name)
        self.source = f"thermal:{getattr(image_encoder, 'source', type(image_encoder).__name__)}"

    def unit(self, sample: ThermalFrame | np.ndarray) -> np.ndarray:
        """The frame as grey values in [0, 1] after the contrast rule."""
        return to_unit(_frame(sample), self.settings)

    def render(self, sample: ThermalFrame | np.ndarray):
        """The grey picture the image encoder sees (8-bit RGB PIL image), for inspection."""
        return unit_to_image(self.unit(sample))

    def preprocess(self, sample: ThermalFrame | np.ndarray) -> torch.Tensor:
        unit = self.unit(sample)
        if self.settings.input_norm == "imagebind":
            return imagebind_tensor(unit, self.settings.input_size)
        return self.image.preprocess(unit_to_image(unit))

    def collate(self, items: Sequence[torch.Tensor]) -> Any:
        return self.image.collate(items)

    def forward(self, batch: Any) -> torch.Tensor:
        return self.image(batch)


def _frame(sample: ThermalFrame | np.ndarray) -> ThermalFrame:
    if isinstance(sample, ThermalFrame):
        return sample
    if isinstance(sample, np.ndarray):
        return ThermalFrame.from_array(sample)
    raise TypeError(f"thermal encoders take ThermalFrame samples (load files with the thermal modality) "
                    f"or 2-D arrays, got {type(sample).__name__}")


def build_thermal_image(settings: ThermalImageSettings | None = None, *,
                        image_encoder: Encoder | None = None, **_: Any) -> ThermalImageEncoder:
    """Factory of ``thermal-image``; pass ``image_encoder`` to share one already built."""
    return ThermalImageEncoder.from_settings(settings or ThermalImageSettings(), image_encoder=image_encoder)


def build_hf_thermal(settings: HFThermalSettings, **_: Any) -> ThermalImageEncoder:
    """Factory of ``hf-thermal``: the image plugin's ``hf-vision`` encoder, built through the registry."""
    vision = ThermalImageEncoder.image_encoder_spec(HF_VISION).build({
        "model": settings.model, "local_files_only": settings.local_files_only, "normalize": settings.normalize,
    })
    return ThermalImageEncoder(settings, vision, HF_VISION)
