"""The paper's adapter: one linear layer from encoder features to the text space."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, Field
from torch import nn

from unibind.adapters.base import Adapter


class LinearAdapterSettings(BaseModel):
    """Settings of the linear adapter."""

    bias: bool = True
    init: Literal["xavier", "orthogonal", "zeros", "text-bridge"] = Field(
        default="xavier", description="Weight initialisation before training; 'text-bridge': the linear form "
        "of the ImageNet text bridge (needs an encoder with imagenet_head(), and a bridge plugin)."
    )
    seed: int = 0


class LinearAdapter(Adapter):
    """``y = W x + b``, trained contrastively against text descriptions."""

    def __init__(self, settings: LinearAdapterSettings | None = None, *, in_dim: int, out_dim: int,
                 **_: Any):
        super().__init__()
        settings = settings or LinearAdapterSettings()
        self.settings = settings
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.linear = nn.Linear(self.in_dim, self.out_dim, bias=settings.bias)
        generator = torch.Generator().manual_seed(settings.seed)
        with torch.no_grad():
            if settings.init == "xavier":
                bound = (6.0 / (self.in_dim + self.out_dim)) ** 0.5
                self.linear.weight.uniform_(-bound, bound, generator=generator)
            elif settings.init == "orthogonal":
                q, _ = torch.linalg.qr(torch.randn(max(self.in_dim, self.out_dim),
                                                   min(self.in_dim, self.out_dim), generator=generator))
                self.linear.weight.copy_(q.T if self.out_dim <= self.in_dim else q)
            else:
                self.linear.weight.zero_()
            if self.linear.bias is not None:
                self.linear.bias.zero_()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)

    @torch.no_grad()
    def set_weights(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        """Start from given weights (e.g. the text bridge) instead of the settings' initialisation."""
        self.linear.weight.copy_(weight)
        if self.linear.bias is not None and bias is not None:
            self.linear.bias.copy_(bias)

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "settings": self.settings.model_dump()}


def build_linear_adapter(settings: LinearAdapterSettings, *, in_dim: int, out_dim: int, encoder: Any = None,
                         text_encoder: Any = None, **_: Any) -> LinearAdapter:
    adapter = LinearAdapter(settings, in_dim=in_dim, out_dim=out_dim)
    if settings.init == "text-bridge":
        from unibind.training.bridge_init import text_bridge_weights

        adapter.set_weights(*text_bridge_weights(encoder, text_encoder))
    return adapter
