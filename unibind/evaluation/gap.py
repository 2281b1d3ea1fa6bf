"""The modality gap of a space, in the field's terms, from unit embeddings.

- **gap**: the distance between two modalities' mean embeddings,
  ``||mean(x) - mean(y)||`` (Liang et al. 2022, "Mind the Gap"); 0 when
  the modalities share a centre, up to 2 on the unit sphere.
- **alignment**: the mean squared distance of matched pairs,
  ``E ||f(x) - f(y)||^2`` (Wang & Isola 2020, alpha = 2); here an item and
  its class's text. 0 when every item sits on its class's text, 4 at most.
- **uniformity**: ``log E exp(-2 ||f(x) - f(y)||^2)`` over distinct pairs
  of one modality (Wang & Isola, t = 2); from 0 (all in one point) down to
  about -4 (spread over the sphere in high dimension).

A balanced space has a small gap: text queries then find every modality,
not only the one that happens to sit nearest the text cone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from pydantic import BaseModel, Field

#: Uniformity is estimated on at most this many rows per modality (all pairs of them).
UNIFORMITY_MAX_ROWS = 2000


def modality_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    """``||mean(a) - mean(b)||`` of two sets of embeddings ``[n, d]`` and ``[m, d]``."""
    if len(a) == 0 or len(b) == 0:
        raise ValueError("the gap needs embeddings on both sides")
    return float((a.double().mean(0) - b.double().mean(0)).norm())


def gap_floor(a: torch.Tensor, b: torch.Tensor) -> float:
    """The gap two finite samples show with no gap at all: ``sqrt(tr S_a / n_a + tr S_b / n_b)``.

    The root mean square of ``||mean(a) - mean(b)||`` when both sides are drawn
    from one distribution with their sample covariances; a measured gap near it is noise.
    """
    spread = a.double().var(0).sum() / len(a) if len(a) > 1 else 0.0
    spread = spread + (b.double().var(0).sum() / len(b) if len(b) > 1 else 0.0)
    return float(torch.as_tensor(spread).sqrt())


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> float:
    """Mean ``||x_i - y_i||^alpha`` over matched rows (Wang & Isola's alignment loss)."""
    if x.shape != y.shape or len(x) == 0:
        raise ValueError(f"alignment needs matched, non-empty rows, got {tuple(x.shape)} and {tuple(y.shape)}")
    return float((x.double() - y.double()).norm(dim=1).pow(alpha).mean())


def uniformity(x: torch.Tensor, t: float = 2.0, *, max_rows: int = UNIFORMITY_MAX_ROWS, seed: int = 0) -> float:
    """``log`` of the mean Gaussian potential ``exp(-t ||x_i - x_j||^2)`` over pairs ``i < j``.

    Above ``max_rows`` rows a seeded random subset is used (the pairs grow quadratically).
    """
    if len(x) < 2:
        return math.nan
    if len(x) > max_rows:
        keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:max_rows]
        x = x[keep]
    squared = torch.pdist(x.double()).pow(2)
    return float(torch.logsumexp(-t * squared, dim=0) - math.log(len(squared)))


class GapRow(BaseModel):
    """One modality against the text side (its class prompts) in one state of the space."""

    modality: str
    items: int
    gap_to_text: float = Field(description="||mean(modality) - mean(text)||.")
    floor: float = Field(default=0.0, description="Gap finite samples show with no gap (gap_floor): below it, noise.")
    alignment: float = Field(description="Mean squared distance of each item to its class's text.")
    uniformity: float = Field(description="log mean exp(-2 ||x - y||^2) over this modality's pairs.")


class GapResult(BaseModel):
    rows: list[GapRow]
    text_uniformity: float
    pairs: dict[str, float] = Field(default_factory=dict, description="'a-b' -> gap between two modalities.")


def measure_gap(sets: Sequence[tuple[str, torch.Tensor, Sequence[str]]], text: torch.Tensor,
                class_names: Sequence[str]) -> GapResult:
    """Gap, alignment and uniformity of each ``(modality, unit vectors, labels)`` against the class texts.

    ``text [C, d]``: one unit text embedding per class of ``class_names``
    (e.g. the canonical prompts); the text mean is taken over those classes.
    """
    row_of = {name: i for i, name in enumerate(class_names)}
    rows = []
    for modality, vectors, labels in sets:
        matched = text[torch.tensor([row_of[label] for label in labels], dtype=torch.long)]
        rows.append(GapRow(modality=modality, items=len(vectors), gap_to_text=modality_gap(vectors, text),
                           floor=gap_floor(vectors, text),
                           alignment=alignment(vectors, matched), uniformity=uniformity(vectors)))
    pairs = {f"{a}-{b}": modality_gap(va, vb) for n, (a, va, _) in enumerate(sets) for b, vb, _ in sets[n + 1:]}
    return GapResult(rows=rows, text_uniformity=uniformity(text), pairs=pairs)
