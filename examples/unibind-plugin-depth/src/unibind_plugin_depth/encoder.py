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

from unibind.encoders.base import Encoder, ImageBackedEncoder
from unibind_plugin_depth.render import render
from unibind_plugin_depth.settings import DepthRenderSettings


class DepthRenderEncoder(ImageBackedEncoder):
    """Depth map (metres, NaN invalid) → rendered RGB picture → image encoder → ``[N, dim]``."""

    modality = "depth"
    needed_by = "depth-render"

    def render(self, depth: np.ndarray) -> Image.Image:
        """The picture the image encoder sees, for inspection."""
        return render(depth, self.settings)

    def preprocess(self, sample: np.ndarray) -> torch.Tensor:
        return self.image.preprocess(self.render(sample))

    def collate(self, items: Sequence[torch.Tensor]) -> Any:
        return self.image.collate(items)

    def forward(self, batch: Any) -> torch.Tensor:
        return self.image(batch)


def build_depth_render(settings: DepthRenderSettings, *,
                       image_encoder: Encoder | None = None) -> DepthRenderEncoder:
    """Factory of ``depth-render``; pass ``image_encoder`` to share one already built."""
    return DepthRenderEncoder.from_settings(settings, image_encoder=image_encoder)
