"""The ``multiview-depth`` encoder: a cloud seen as depth pictures by an image encoder (PointCLIP).

No point-cloud network ships with weights usable offline, but a frozen image
encoder reads shape from depth pictures (PointCLIP, Zhang et al. 2022). The
image encoder is found through the registry (by name, or the image
modality's default), never imported from the image plugin; its dimension,
frozen weights and ImageNet head become this encoder's, so the image
plugin's training-free ImageNet bridge serves point clouds too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from unibind.encoders.base import Encoder, ImageBackedEncoder
from unibind_plugin_pointcloud.preprocess import prepare
from unibind_plugin_pointcloud.render import depth_views, to_pictures
from unibind_plugin_pointcloud.settings import MultiViewDepthSettings

DEFAULT_INPUT_SIZE = 224


def input_size(image_encoder: Any) -> int:
    """The square input side an image encoder crops to (timm's data config), else 224."""
    config = getattr(image_encoder, "data_config", None)
    if isinstance(config, dict) and config.get("input_size"):
        return int(config["input_size"][-1])
    return DEFAULT_INPUT_SIZE


def input_normalisation(image_encoder: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(mean, std)`` as ``[3, 1, 1]`` tensors when the encoder declares them (timm's data config)."""
    config = getattr(image_encoder, "data_config", None)
    if not isinstance(config, dict) or not {"mean", "std", "input_size"} <= set(config):
        return None
    mean, std = (torch.tensor(config[k], dtype=torch.float32).view(-1, 1, 1) for k in ("mean", "std"))
    return (mean, std) if mean.numel() == std.numel() == 3 else None


class MultiViewDepthEncoder(ImageBackedEncoder):
    """Cloud -> FPS + unit sphere -> V depth pictures -> image encoder -> views pooled -> ``[N, dim]``."""

    modality = "pointcloud"
    needed_by = "multiview-depth"

    def __init__(self, settings: MultiViewDepthSettings, image_encoder: Encoder, image_encoder_name: str = ""):
        super().__init__(settings, image_encoder, image_encoder_name)
        self.resolution = settings.resolution or input_size(image_encoder)
        normalisation = input_normalisation(image_encoder) if settings.direct else None
        if normalisation is not None and settings.resolution not in (None, input_size(image_encoder)):
            normalisation = None  # another size was asked for: let the encoder's transform resize it
        self.direct = normalisation is not None
        # plain attributes, not buffers: preprocessing runs on the CPU (in worker processes too)
        # wherever the encoder's weights are moved (unibind.devices)
        self.input_norm = normalisation

    @property
    def views(self) -> int:
        return len(self.settings.views)

    def depth(self, sample: Any) -> torch.Tensor:
        """``[V, H, W]`` depth pictures in 0..1 of one cloud."""
        s = self.settings
        return depth_views(prepare(sample, s), s.views, self.resolution, fill=s.fill, point_size=s.point_size,
                           smooth=s.smooth, near=s.near_bright, far=s.far_bright)

    def render(self, sample: Any) -> list:
        """The pictures the image encoder sees (PIL RGB images), for inspection."""
        return to_pictures(self.depth(sample))

    def preprocess(self, sample: Any) -> torch.Tensor:
        """``[V, 3, H, W]``: the views as the image encoder's input."""
        if self.direct:
            grey = self.depth(sample)[:, None].expand(-1, 3, -1, -1)
            mean, std = self.input_norm
            return (grey - mean) / std
        return torch.stack([self.image.preprocess(picture) for picture in self.render(sample)])

    def collate(self, items: Sequence[torch.Tensor]) -> Any:
        if self.direct:
            return torch.stack(list(items)).flatten(0, 1)
        return self.image.collate([view for item in items for view in item])

    def forward(self, batch: Any) -> torch.Tensor:
        features = self.image(batch)
        per_view = features.reshape(-1, self.views, features.shape[-1])
        if self.settings.pooling == "max":
            return per_view.max(dim=1).values
        return per_view.mean(dim=1)


def build_multiview_depth(settings: MultiViewDepthSettings | None = None, *,
                          image_encoder: Encoder | None = None, **_: Any) -> MultiViewDepthEncoder:
    """Factory of ``multiview-depth``; pass ``image_encoder`` to share one already built."""
    return MultiViewDepthEncoder.from_settings(settings or MultiViewDepthSettings(), image_encoder=image_encoder)
