"""A small MLP adapter: the linear adapter plus a residual non-linear branch.

The branch's output layer starts at zero, so an untrained MLP adapter is
exactly the linear adapter with the same initialisation (including the
text-bridge start): extra capacity without giving up the paper's baseline.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, Field
from torch import nn

from unibind.adapters.base import Adapter
from unibind.adapters.linear import LinearAdapter, LinearAdapterSettings


class MLPAdapterSettings(BaseModel):
    """Settings of the MLP adapter."""

    hidden: int = Field(default=512, ge=1, description="Width of the hidden layers.")
    layers: int = Field(default=1, ge=1, le=4, description="Hidden layers in the residual branch.")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    activation: Literal["gelu", "relu"] = "gelu"
    bias: bool = True
    init: Literal["xavier", "orthogonal", "zeros", "text-bridge"] = Field(
        default="xavier", description="Initialisation of the linear path (see the linear adapter).")
    seed: int = 0


class MLPAdapter(Adapter):
    """``y = W x + b + branch(x)``; ``branch`` is Linear-act-dropout blocks then a zero-initialised Linear."""

    def __init__(self, settings: MLPAdapterSettings | None = None, *, in_dim: int, out_dim: int, **_: Any):
        super().__init__()
        settings = settings or MLPAdapterSettings()
        self.settings = settings
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.skip = LinearAdapter(LinearAdapterSettings(bias=settings.bias, init=settings.init, seed=settings.seed),
                                  in_dim=in_dim, out_dim=out_dim)
        act = nn.GELU if settings.activation == "gelu" else nn.ReLU
        blocks: list[nn.Module] = []
        width = self.in_dim
        generator = torch.Generator().manual_seed(settings.seed + 1)
        for _ in range(settings.layers):
            layer = nn.Linear(width, settings.hidden)
            with torch.no_grad():
                bound = (6.0 / (width + settings.hidden)) ** 0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.zero_()
            blocks += [layer, act(), nn.Dropout(settings.dropout)]
            width = settings.hidden
        out = nn.Linear(width, self.out_dim)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.branch = nn.Sequential(*blocks, out)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.skip(features) + self.branch(features)

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "settings": self.settings.model_dump()}


def build_mlp_adapter(settings: MLPAdapterSettings, *, in_dim: int, out_dim: int, encoder: Any = None,
                      text_encoder: Any = None, **_: Any) -> MLPAdapter:
    adapter = MLPAdapter(settings, in_dim=in_dim, out_dim=out_dim)
    if settings.init == "text-bridge":
        from unibind.training.bridge_init import text_bridge_weights

        adapter.skip.set_weights(*text_bridge_weights(encoder, text_encoder))
    return adapter
