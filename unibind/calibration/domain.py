"""Which inputs a calibrator was fitted for: the neighbourhood of the files it was fitted on.

A temperature fitted on photo stamps does not carry to handwritten digits (the shipped image
default leaves MNIST at ECE 0.75), yet its probabilities look just as calibrated. So a
fitted calibrator keeps the embeddings of the files it was fitted on, and an input whose
k-th nearest of them is farther than almost all of those files are from their own k-th
nearest neighbour (leave-one-out; the ``quantile``, 0.95 by default) lies outside its
domain: its probability is reported as not calibrated for it. This is the deep k-NN
out-of-distribution test of Sun et al. (ICML 2022) on normalised embeddings, with the
cut set on in-domain data alone, so by construction about 5 % of new in-domain files fall
outside.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

PREFIX = "domain."
MAX_REFERENCE = 4096


class CalibrationDomain:
    """Normalised reference embeddings ``[N, D]`` and the k-NN cosine distance beyond which an input is outside."""

    def __init__(self, reference: torch.Tensor, *, k: int, radius: float, quantile: float):
        self.reference = F.normalize(reference.float(), dim=-1)
        self.k, self.radius, self.quantile = int(k), float(radius), float(quantile)

    @classmethod
    def fit(cls, vectors: torch.Tensor, *, k: int = 5, quantile: float = 0.95) -> CalibrationDomain | None:
        """The domain of ``vectors`` (the files a calibrator is fitted on); None with too few to tell."""
        vectors = F.normalize(vectors.float(), dim=-1)
        if len(vectors) > MAX_REFERENCE:   # a seeded sample keeps the file small and the quantile the same
            vectors = vectors[torch.randperm(len(vectors), generator=torch.Generator().manual_seed(0))[:MAX_REFERENCE]]
        k = min(k, len(vectors) - 2)
        if k < 1:
            return None
        sims = vectors @ vectors.T
        sims.fill_diagonal_(float("-inf"))        # leave one out: a file is not its own neighbour
        own = 1.0 - sims.topk(k, dim=-1).values[:, -1]
        return cls(vectors, k=k, radius=float(torch.quantile(own, quantile)), quantile=quantile)

    def distances(self, vectors: torch.Tensor) -> torch.Tensor:
        """``[M]`` cosine distance of each input to its k-th nearest reference embedding."""
        sims = F.normalize(vectors.float(), dim=-1) @ self.reference.T
        return 1.0 - sims.topk(min(self.k, len(self.reference)), dim=-1).values[:, -1]

    def contains(self, vectors: torch.Tensor) -> torch.Tensor:
        """``[M]`` bool: inside the domain."""
        return self.distances(vectors) <= self.radius

    def settings(self) -> dict[str, Any]:
        """What a calibrator's record says about its domain (the embeddings go in its tensors)."""
        return {"k": self.k, "radius": self.radius, "quantile": self.quantile, "count": len(self.reference),
                "method": "k-NN cosine distance to the fitting files (Sun et al. 2022), cut at the quantile of "
                          "their leave-one-out distances"}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"{PREFIX}reference": self.reference.contiguous()}

    @classmethod
    def from_saved(cls, settings: dict[str, Any] | None, tensors: dict[str, torch.Tensor]) -> CalibrationDomain | None:
        reference = tensors.get(f"{PREFIX}reference")
        if not settings or reference is None:
            return None
        return cls(reference, k=settings["k"], radius=settings["radius"], quantile=settings["quantile"])
