"""The hashing text encoder of :mod:`unibind.knowledge.testing` (imports torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from unibind.encoders.base import Encoder
from unibind.knowledge.testing import HashingSettings, hashing_embed


class HashingTextEncoder(Encoder):
    """Bag of hashed words; counts every text it encodes (class-wide, across instances)."""

    modality = "text"
    encoded_total = 0

    def __init__(self, settings: HashingSettings):
        super().__init__()
        self.settings = settings
        self.dim = settings.dim
        self.source = f"hashing:{settings.salt}"

    @torch.inference_mode()
    def encode(self, samples: Sequence[str], batch_size: int = 32) -> torch.Tensor:
        texts = [str(s) for s in samples]
        type(self).encoded_total += len(texts)
        if not texts:
            return torch.empty(0, self.dim)
        return torch.from_numpy(np.stack([hashing_embed(t, self.dim, self.settings.salt) for t in texts]))

    # the file path of a Space (embed_files): preprocess one text, collate a list, forward a batch
    def preprocess(self, sample: str) -> str:  # type: ignore[override]
        return str(sample)

    def collate(self, items: Sequence[str]) -> list[str]:  # type: ignore[override]
        return list(items)

    def forward(self, batch: list[str]) -> torch.Tensor:  # type: ignore[override]
        return self.encode(batch)
