"""The depth-render encoder: draw the depth map, let an image encoder see it.

No depth network ships with weights we can use offline, but frozen image
encoders read shape from shading well. So this encoder borrows one: the image
encoder is found through the registry (by name, or the image modality's
default), never imported from the image plugin, and its dimension, frozen
weights and ImageNet head become this encoder's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from unibind.encoders.base import Encoder
from unibind.specs import Spec
from unibind_plugin_depth.render import render
from unibind_plugin_depth.settings import DepthRenderSettings


class DepthRenderEncoder(Encoder):
    """Depth map (metres, NaN invalid) → rendered RGB picture → image encoder → ``[N, dim]``."""

    modality = "depth"

    def __init__(self, settings: DepthRenderSettings, image_encoder: Encoder):
        super().__init__()
        self.settings = settings
        self.image = image_encoder
        self.dim = int(image_encoder.dim)
        self.freeze()

    def render(self, depth: np.ndarray) -> Image.Image:
        """The picture the image encoder sees, for inspection."""
        return render(depth, self.settings)

    def preprocess(self, sample: np.ndarray) -> torch.Tensor:
        return self.image.preprocess(self.render(sample))

    def collate(self, items: Sequence[torch.Tensor]) -> Any:
        return self.image.collate(items)

    def forward(self, batch: Any) -> torch.Tensor:
        return self.image(batch)

    def imagenet_head(self) -> nn.Linear | None:
        """The image encoder's 1000-way ImageNet classifier on these features, if it has one.

        Its presence lets the image plugin's training-free ImageNet bridge adapter
        serve depth too: the features are the image encoder's own.
        """
        head = getattr(self.image, "imagenet_head", None)
        return head() if callable(head) else None


def image_encoder_spec(settings: DepthRenderSettings) -> Spec:
    """The image encoder named in the settings, or the image modality's default, from the registry."""
    from unibind.plugins import get_registry

    return get_registry().encoder_for("image", settings.image_encoder, needed_by="depth-render")


def build_depth_render(settings: DepthRenderSettings, *,
                       image_encoder: Encoder | None = None) -> DepthRenderEncoder:
    """Factory of ``depth-render``; pass ``image_encoder`` to share one already built."""
    if image_encoder is None:
        image_encoder = image_encoder_spec(settings).build(settings.image_encoder_settings or None)
    return DepthRenderEncoder(settings, image_encoder)
