"""Adapter interface and safetensors persistence shared by every adapter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unibind.atomic import save_tensors
from unibind.errors import InputError


class Adapter(nn.Module):
    """Maps ``[N, in_dim]`` encoder features to ``[N, out_dim]`` space embeddings."""

    in_dim: int = 0
    out_dim: int = 0

    def metadata(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "in_dim": self.in_dim, "out_dim": self.out_dim}

    def linear_form(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(weight [out_dim, in_dim], bias [out_dim])`` of a linear map this adapter is or has,
        up to normalisation; ``None`` if it has none. Trainable adapters start from it
        (``init='text-bridge'``), so a bridge states its linear form here, not in its buffers."""
        return None

    def save(self, path: str | Path, **extra: Any) -> Path:
        """Weights as safetensors, metadata as JSON inside the safetensors header."""
        meta = {**self.metadata(), **extra}
        return save_tensors(dict(self.state_dict()), path, metadata={"unibind": json.dumps(meta)})

    def load_weights(self, path: str | Path, *, expect: dict[str, Any] | None = None) -> dict[str, Any]:
        """Load weights saved by :meth:`save`, refusing metadata that does not match ``expect``."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = json.loads((fh.metadata() or {}).get("unibind", "{}"))
            state = load_file(str(path))
        except Exception as exc:  # noqa: BLE001
            raise InputError(path, f"not a readable safetensors adapter: {exc}") from exc
        for key, want in (expect or {}).items():
            if key in meta and meta[key] != want:
                raise InputError(path, f"adapter was saved for {key}={meta[key]!r}, not {want!r}")
        self.load_state_dict(state)
        return meta


class IdentityAdapter(Adapter):
    """For encoders already in the text space (the text encoder itself)."""

    def __init__(self, *, in_dim: int = 0, out_dim: int | None = None, **_: Any):
        super().__init__()
        self.in_dim = self.out_dim = in_dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features
