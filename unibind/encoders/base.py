"""The encoder interface every modality plugin implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class Encoder(nn.Module):
    """Maps a list of samples to a float tensor ``[N, dim]``.

    Split in two so that decoding and preprocessing can run in worker
    processes and be cached: :meth:`preprocess` turns one loaded sample into
    a tensor, :meth:`forward` runs the network on a stacked batch.
    """

    modality: str = ""
    dim: int = 0

    def preprocess(self, sample: Any) -> torch.Tensor:
        raise NotImplementedError

    def collate(self, items: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.stack(list(items))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.inference_mode()
    def encode(self, samples: Sequence[Any], batch_size: int = 32) -> torch.Tensor:
        """Preprocess and encode ``samples`` in batches; returns ``[N, dim]`` float32."""
        if len(samples) == 0:
            return torch.empty(0, self.dim)
        outputs = []
        for start in range(0, len(samples), batch_size):
            chunk = samples[start:start + batch_size]
            batch = self.collate([self.preprocess(s) for s in chunk])
            outputs.append(self(batch).float())
        return torch.cat(outputs)

    def freeze(self) -> Encoder:
        """Frozen encoders never train: no gradients, eval mode."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self
