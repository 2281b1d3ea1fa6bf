"""Raw class scores of files, the input calibrators are fitted on (same path as ``Space.classify``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unibind.space import Embeddings


@dataclass
class Scored:
    """Embeddings of the files that loaded, their cosine scores ``[N, C]`` and logits (scale x cosine)."""

    embedded: Embeddings
    labels: list[str]
    sims: torch.Tensor
    logits: torch.Tensor
    centre_set: Any = None   # the knowledge-base centres scored against (None: prompt templates)


def score_files(space: Any, paths: Sequence[str | Path], labels: Sequence[str], modality: str, *,
                centres: Any = None, reduce: str | None = None, batch_size: int = 32) -> Scored:
    """Embed ``paths`` of one modality and score them against ``labels`` (knowledge-base centres or templates)."""
    centre_set = space.centre_set(centres, labels, modality)
    labels = centre_set.labels if centre_set is not None else list(labels)
    embedded = space.embed_files(paths, modality, batch_size=batch_size)
    if centre_set is not None:
        sims = centre_set.score(embedded.vectors, reduce=reduce)
    else:
        sims = embedded.vectors @ space.class_centres(labels, modality).T
    return Scored(embedded, labels, sims, space.logit_scale * sims, centre_set)
