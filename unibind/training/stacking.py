"""Calibrated stacking (Chao et al. 2016, "An empirical study and analysis of generalized zero-shot learning").

A trained adapter scores the classes it was trained on higher than classes it
never saw, so in generalised zero-shot classification (seen and unseen
classes together) the unseen ones are rarely predicted. Calibrated stacking
subtracts one constant ``gamma`` from the scores of the seen classes.

``gamma`` must be chosen without the unseen classes' data, which training
never has. :func:`fit_stacking` therefore holds out a random part of the
*seen* classes as pseudo-unseen, trains a second adapter on the rest (same
start and settings), and picks the ``gamma`` that maximises the harmonic
mean H of balanced accuracy on held-out items of the pseudo-seen classes and
on the items of the pseudo-unseen ones. That ``gamma`` is then applied to
the adapter trained on every seen class (recorded in ``space.json``,
:class:`unibind.spacedir.StackingRecord`).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

#: Share of the seen classes held out as pseudo-unseen (the share of unseen classes scripts/choose_init.py measures).
PSEUDO_UNSEEN_FRACTION = 0.3
#: At most this many gamma candidates are tried (quantiles of the items' seen-minus-unseen margins).
MAX_CANDIDATES = 400


def seen_offsets(labels: Sequence[str], seen: Iterable[str], gamma: float) -> torch.Tensor:
    """``[C]``: ``gamma`` for each of ``labels`` among ``seen`` (case-insensitive), 0 for the others."""
    known = {s.strip().casefold() for s in seen}
    return torch.tensor([gamma if label.strip().casefold() in known else 0.0 for label in labels])


def _balanced(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Balanced accuracy (mean recall over the classes in ``truth``) of each row of ``predicted`` ``[G, N]``."""
    classes = truth.unique()
    hits = (predicted == truth).float()
    return torch.stack([hits[:, truth == c].mean(1) for c in classes], 1).mean(1)


def harmonic(seen: torch.Tensor, unseen: torch.Tensor) -> torch.Tensor:
    """GZSL's H = 2su/(s+u), 0 where both are 0."""
    total = seen + unseen
    return torch.where(total > 0, 2 * seen * unseen / total.clamp_min(1e-12), torch.zeros_like(total))


@dataclass
class Choice:
    gamma: float
    h_before: float
    h_after: float
    seen_before: float
    unseen_before: float
    seen_after: float
    unseen_after: float


def choose_gamma(sims: torch.Tensor, truth: torch.Tensor, seen: torch.Tensor) -> Choice:
    """The ``gamma`` >= 0 maximising H on scored items.

    ``sims`` ``[N, C]`` cosine scores, ``truth`` ``[N]`` class indices,
    ``seen`` ``[C]`` bool (classes the adapter was trained on). Items of
    seen classes give seen accuracy, the rest unseen accuracy, both balanced
    and among all C classes. The candidates are 0 and the margins at which
    an item's prediction flips, so no better gamma lies between them; ties
    go to the smallest gamma (the least change).
    """
    sims = sims.float()
    seen = seen.bool()
    if seen.all() or not seen.any():
        raise ValueError("choosing gamma needs seen and unseen classes")
    margin = sims[:, seen].max(1).values - sims[:, ~seen].max(1).values
    flips = margin[margin > 0].sort().values
    if len(flips) > MAX_CANDIDATES:
        flips = torch.quantile(flips, torch.linspace(0, 1, MAX_CANDIDATES))
    candidates = torch.cat([torch.zeros(1), flips + 1e-6])
    shifted = sims.unsqueeze(0) - candidates[:, None, None] * seen.float()[None, None, :]
    predicted = shifted.argmax(-1)  # [G, N]
    on_seen = seen[truth]
    s = _balanced(predicted[:, on_seen], truth[on_seen])
    u = _balanced(predicted[:, ~on_seen], truth[~on_seen])
    h = harmonic(s, u)
    best = int(torch.argmax(h))  # first maximum: the smallest gamma among ties
    return Choice(float(candidates[best]), float(h[0]), float(h[best]), float(s[0]), float(u[0]),
                  float(s[best]), float(u[best]))


def pseudo_unseen(classes: Sequence[str], seed: int) -> list[str]:
    """About :data:`PSEUDO_UNSEEN_FRACTION` of ``classes`` (at least one, leaving at least two), drawn with ``seed``."""
    classes = sorted(classes)
    count = min(len(classes) - 2, max(1, round(PSEUDO_UNSEEN_FRACTION * len(classes))))
    return sorted(random.Random(seed).sample(classes, count)) if count >= 1 else []


def fit_stacking(start: torch.nn.Module, modality: str, train: Any, val: Any, positives: Any, labels: Sequence[str],
                 centre_set: Any, settings: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Choose ``gamma`` for one modality: a second run from ``start`` without a pseudo-unseen part of the classes.

    ``train``/``val``: the modality's :class:`~unibind.training.trainer.ModalityData` (val: None when there
    is none); ``labels``: the class names its ``labels`` index; ``centre_set``: the centres the space saves.
    Returns (the record's fields, None) or (None, why it could not be fitted).
    """
    from unibind.training.trainer import ModalityData, fit_adapters

    present = sorted({int(c) for c in train.labels.tolist() if c >= 0})
    names = [labels[c] for c in present]
    if len(names) < 3:
        return None, f"{len(names)} trained class(es): stacking needs at least 3 (2 to train, 1 pseudo-unseen)"
    if val is None or not len(val):
        return None, "no validation items: stacking needs held-out items of the pseudo-seen classes"
    held = pseudo_unseen(names, settings.seed)
    held_index = torch.tensor([labels.index(n) for n in held])
    in_held = lambda data: torch.isin(data.labels, held_index)  # noqa: E731
    aux_train = train.subset(torch.nonzero(~in_held(train) & (train.labels >= 0)).flatten())
    aux_val = val.subset(torch.nonzero(~in_held(val) & (val.labels >= 0)).flatten())
    unseen_rows = [d.subset(torch.nonzero(in_held(d)).flatten()) for d in (train, val)]
    if not len(aux_val) or not len(aux_train):
        return None, "no validation items of the pseudo-seen classes"
    adapter = copy.deepcopy(start)
    fit = fit_adapters({modality: adapter}, {modality: aux_train}, {modality: aux_val}, {modality: positives},
                       settings)
    adapter = fit.adapters[modality].eval()
    features = torch.cat([aux_val.features[torch.arange(len(aux_val))]]
                         + [d.features[torch.arange(len(d))] for d in unseen_rows if len(d)])
    truth = torch.cat([aux_val.labels] + [d.labels for d in unseen_rows])
    device = next(adapter.parameters()).device
    with torch.inference_mode():
        embedded = torch.nn.functional.normalize(adapter(features.float().to(device)).float(), dim=-1).cpu()
        sims = centre_set.score(embedded)
    columns = torch.tensor([centre_set.labels.index(n) for n in names])  # GZSL among the trained classes
    where = {int(c): i for i, c in enumerate(torch.tensor([labels.index(n) for n in names]).tolist())}
    local = torch.tensor([where[int(t)] for t in truth.tolist()])
    seen_mask = torch.tensor([n not in held for n in names])
    choice = choose_gamma(sims[:, columns], local, seen_mask)
    return {"gamma": choice.gamma, "fitted": {
        "method": "calibrated stacking; gamma chosen on a second training run without the pseudo-unseen classes",
        "pseudo_unseen": held, "seen_items": int(len(aux_val)), "unseen_items": int(sum(len(d) for d in unseen_rows)),
        "h_before": round(choice.h_before, 4), "h_after": round(choice.h_after, 4),
        "seen_before": round(choice.seen_before, 4), "unseen_before": round(choice.unseen_before, 4),
        "seen_after": round(choice.seen_after, 4), "unseen_after": round(choice.unseen_after, 4),
        "seed": settings.seed}}, None
