"""Per-modality centring: C3's "collapse" step against the modality gap.

Each modality's unit embeddings sit in a cone of their own, apart from the
text's (the modality gap). Subtracting the modality's own mean embedding
before normalising, ``f_m(v) = normalize(normalize(v) - mean_m)``, for every
modality *and* text, puts all cones around one centre (Zhang et al. 2024,
"Connect, Collapse, Corrupt"). The means are computed once on training data
and kept in the space folder (``means.safetensors``); a space loads them and
wraps each pipeline's adapter in :class:`CentredAdapter`, so embedding,
classifying, evaluating and indexing all apply the same step. Stored centre
sets were embedded without it and are centred when the space loads them
(:func:`centre_rows`). A space without the file behaves as before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from unibind.errors import InputError

FORMAT = "unibind-means"
MEANS = "means.safetensors"


class CentredAdapter(nn.Module):
    """``adapter`` followed by the unit-normalise-and-subtract step; callers normalise the result again."""

    def __init__(self, adapter: nn.Module, mean: torch.Tensor):
        super().__init__()
        self.inner = adapter
        self.register_buffer("mean", mean.detach().float().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.inner(x).float(), dim=-1) - self.mean.to(x.device)

    @property
    def digest(self) -> str:
        """What the centring adds to an identity: a hash of the mean."""
        return hashlib.sha256(self.mean.cpu().contiguous().numpy().tobytes()).hexdigest()[:24]


def centre_rows(vectors: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """``normalize(normalize(v) - mean)`` row-wise, over the last dimension (any leading shape)."""
    return F.normalize(F.normalize(vectors.float(), dim=-1) - mean.to(vectors.device), dim=-1)


def unit_mean(vectors: torch.Tensor) -> torch.Tensor:
    """The mean of the unit-normalised rows ``[n, d]``."""
    if len(vectors) == 0:
        raise ValueError("a mean needs at least one embedding")
    return F.normalize(vectors.float(), dim=-1).double().mean(0).float()


def save_means(path: str | Path, means: dict[str, torch.Tensor], counts: dict[str, int]) -> Path:
    """One safetensors file (written atomically): a ``[d]`` mean per modality and how many rows made it."""
    import json

    from unibind.atomic import save_tensors

    path = Path(path)
    save_tensors({m: v.detach().float().contiguous() for m, v in means.items()}, path,
                 metadata={"format": FORMAT, "counts": json.dumps(counts, sort_keys=True)})
    return path


def load_means(path: str | Path, dim: int | None = None) -> dict[str, torch.Tensor]:
    """The means saved by :func:`save_means`, refused when malformed or of another dimension."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "modality means file named in space.json is missing")
    try:
        with safe_open(str(path), framework="pt") as fh:
            if (fh.metadata() or {}).get("format") != FORMAT:
                raise InputError(path, f"not a UniBind means file (no '{FORMAT}' metadata)")
            means = {name: fh.get_tensor(name).float() for name in fh.keys()}
    except SafetensorError as exc:
        raise InputError(path, f"not a safetensors file: {exc}") from exc
    for name, mean in means.items():
        if mean.ndim != 1 or (dim is not None and len(mean) != dim) or not bool(torch.isfinite(mean).all()):
            raise InputError(path, f"mean of {name!r} has shape {tuple(mean.shape)} (expected [{dim}]) "
                             "or non-finite values")
    return means
