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
#: Share of each pseudo-seen class's items held out to measure seen accuracy while choosing gamma.
HELD_OUT_FRACTION = 0.2
#: The seen-accuracy budget of the second criterion every fit also reports (``fitted["gammas"]``).
SEEN_LOSS_BUDGET = 0.05
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


def choose_gamma(sims: torch.Tensor, truth: torch.Tensor, seen: torch.Tensor,
                 max_seen_loss: float | None = None) -> Choice:
    """The ``gamma`` >= 0 maximising H on scored items (Chao et al.), or, with ``max_seen_loss``, the one
    maximising unseen accuracy among those that cost seen accuracy at most that much (from gamma = 0).

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
    if max_seen_loss is None:
        best = int(torch.argmax(h))  # first maximum: the smallest gamma among ties
    else:
        allowed = s >= s[0] - max_seen_loss - 1e-9
        best = int(torch.argmax(torch.where(allowed, u, torch.full_like(u, -1.0))))
    return Choice(float(candidates[best]), float(h[0]), float(h[best]), float(s[0]), float(u[0]),
                  float(s[best]), float(u[best]))


def pseudo_unseen(classes: Sequence[str], seed: int) -> list[str]:
    """About :data:`PSEUDO_UNSEEN_FRACTION` of ``classes`` (at least one, leaving at least two), drawn with ``seed``."""
    classes = sorted(classes)
    count = min(len(classes) - 2, max(1, round(PSEUDO_UNSEEN_FRACTION * len(classes))))
    return sorted(random.Random(seed).sample(classes, count)) if count >= 1 else []


def _held_out(rows: torch.Tensor, labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Bool over ``rows``: about :data:`HELD_OUT_FRACTION` of each class's rows (one at least, none of a
    class of one row), drawn with ``seed``."""
    out = torch.zeros(len(rows), dtype=torch.bool)
    generator = torch.Generator().manual_seed(seed)
    for c in labels[rows].unique().tolist():
        mine = torch.nonzero(labels[rows] == c).flatten()
        take = max(1, round(HELD_OUT_FRACTION * len(mine))) if len(mine) > 1 else 0
        out[mine[torch.randperm(len(mine), generator=generator)[:take]]] = True
    return out


def fit_stacking(start: torch.nn.Module, modality: str, data: Any, positives: Any, labels: Sequence[str],
                 centre_set: Any, settings: Any, epochs: int,
                 max_seen_loss: float | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """Choose ``gamma`` for one modality: a second run from ``start`` without a pseudo-unseen part of the classes.

    ``data``: every labelled row of the modality (:class:`~unibind.training.trainer.ModalityData`, train and
    val); ``labels``: the class names its ``labels`` index; ``centre_set``: the centres the space saves. The
    second run trains ``epochs`` epochs (the main run's best, or its fixed schedule) on the pseudo-seen
    classes' rows but a held-out part, which with the pseudo-unseen classes' rows then chooses gamma.
    ``max_seen_loss``: None maximises H; a number caps the seen-accuracy cost (:func:`choose_gamma`).
    Returns (the record's fields, None) or (None, why it could not be fitted).
    """
    from unibind.training.trainer import fit_adapters

    present = sorted({int(c) for c in data.labels.tolist() if c >= 0})
    names = [labels[c] for c in present]
    if len(names) < 3:
        return None, f"{len(names)} trained class(es): stacking needs at least 3 (2 to train, 1 pseudo-unseen)"
    held = pseudo_unseen(names, settings.seed)
    held_index = torch.tensor([labels.index(n) for n in held])
    labelled = torch.nonzero(data.labels >= 0).flatten()
    unseen_rows = labelled[torch.isin(data.labels[labelled], held_index)]
    seen_rows = labelled[~torch.isin(data.labels[labelled], held_index)]
    test = _held_out(seen_rows, data.labels, settings.seed)
    if not bool(test.any()) or bool(test.all()):
        return None, "too few items of the pseudo-seen classes to train on some and hold out others"
    adapter = copy.deepcopy(start)
    fit = fit_adapters({modality: adapter}, {modality: data.subset(seen_rows[~test])}, {}, {modality: positives},
                       settings.model_copy(update={"epochs": max(1, epochs)}))
    adapter = fit.adapters[modality].eval()
    rows = torch.cat([seen_rows[test], unseen_rows])
    features = data.subset(rows).features
    features = features[torch.arange(len(rows))] if not isinstance(features, torch.Tensor) else features
    device = next(adapter.parameters()).device
    with torch.inference_mode():
        embedded = torch.nn.functional.normalize(adapter(features.float().to(device)).float(), dim=-1).cpu()
        sims = centre_set.score(embedded)
    columns = torch.tensor([centre_set.labels.index(n) for n in names])  # GZSL among the trained classes
    where = {labels.index(n): i for i, n in enumerate(names)}
    local = torch.tensor([where[int(t)] for t in data.labels[rows].tolist()])
    seen_mask = torch.tensor([n not in held for n in names])
    choices = {"H": choose_gamma(sims[:, columns], local, seen_mask),
               f"seen loss <= {SEEN_LOSS_BUDGET:g}": choose_gamma(sims[:, columns], local, seen_mask,
                                                                   SEEN_LOSS_BUDGET)}
    choice = choose_gamma(sims[:, columns], local, seen_mask, max_seen_loss)
    return {"gamma": choice.gamma, "fitted": {
        "method": "calibrated stacking; gamma chosen on a second training run without the pseudo-unseen classes",
        "criterion": "H" if max_seen_loss is None else f"seen loss <= {max_seen_loss:g}",
        "pseudo_unseen": held, "seen_items": int(test.sum()), "unseen_items": len(unseen_rows), "epochs": epochs,
        "h_before": round(choice.h_before, 4), "h_after": round(choice.h_after, 4),
        "seen_before": round(choice.seen_before, 4), "unseen_before": round(choice.unseen_before, 4),
        "seen_after": round(choice.seen_after, 4), "unseen_after": round(choice.unseen_after, 4),
        "gammas": {k: c.gamma for k, c in choices.items()}, "seed": settings.seed}}, None
