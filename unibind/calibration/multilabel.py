"""Multi-label prediction: a sigmoid per class, per-class thresholds, and how to measure them.

Single-label classification turns class scores into one softmax; an input
holding a bird *and* a flower needs an independent probability per class.
Cosines to overlapping class centres live on very different scales per class
(some classes' descriptions sit closer to everything), so one sigmoid for all
classes is miscalibrated: :class:`PerClassTemperature` fits a temperature and
a bias per class, shrunk towards one shared pair so that classes with few
validation positives do not overfit. Decisions use per-class thresholds that
maximise F1 on validation data (:func:`fit_thresholds`).

Metrics (:func:`multilabel_report`): mean average precision, micro and macro
F1 at given thresholds, and multi-label ECE over all N x C class
probabilities (:func:`multilabel_ece`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

from unibind.calibration.metrics import bin_confidences


class PerClassTemperatureSettings(BaseModel):
    """Settings of per-class temperature scaling for multi-label scores."""

    mode: Literal["per-class", "shared"] = Field(
        default="per-class",
        description="per-class: a temperature and bias per class; shared: one pair for all.")
    shrinkage: float = Field(default=1.0, ge=0, description=(
        "Pull of each class's (log T, bias) towards the shared pair, in units of validation examples: "
        "larger trusts the per-class fit less (0: no pull)."))
    max_iter: int = Field(default=200, ge=1)


class PerClassTemperature:
    """``p_c = sigmoid((s_c - b_c) / T_c)`` for scores ``s`` [N, C]; fitted by binary cross-entropy.

    The shared pair is fitted first; per-class pairs start from it and pay
    ``shrinkage / N`` times their squared distance to it (in log T and in
    bias / shared T), a Gaussian prior that matters only where a class has few
    examples.
    """

    def __init__(self, settings: PerClassTemperatureSettings | None = None, *, classes: int = 1):
        self.settings = settings or PerClassTemperatureSettings()
        self.log_t = torch.zeros(classes)
        self.bias = torch.zeros(classes)

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_t.exp()

    def fit(self, scores: torch.Tensor, targets: torch.Tensor) -> PerClassTemperature:
        """Fit on validation ``scores`` [N, C] and 0/1 ``targets`` [N, C]."""
        scores, targets = _check_pair(scores, targets)
        classes = scores.shape[1]
        spread = scores.std().clamp_min(1e-6)
        log_t0 = spread.log().reshape(1)
        bias0 = scores.mean().reshape(1)
        shared_t, shared_b = _fit_bce(scores, targets, log_t0, bias0, None, 0.0, self.settings.max_iter)
        if self.settings.mode == "shared":
            self.log_t, self.bias = shared_t.expand(classes).clone(), shared_b.expand(classes).clone()
            return self
        weight = self.settings.shrinkage / scores.shape[0]
        self.log_t, self.bias = _fit_bce(scores, targets, shared_t.expand(classes).clone(),
                                         shared_b.expand(classes).clone(), (shared_t, shared_b), weight,
                                         self.settings.max_iter)
        return self

    def logits(self, scores: torch.Tensor) -> torch.Tensor:
        if scores.shape[-1] != self.log_t.shape[0]:
            raise ValueError(f"fitted for {self.log_t.shape[0]} classes, got scores for {scores.shape[-1]}")
        return (scores.float() - self.bias) / self.log_t.exp()

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        """Independent class probabilities [N, C] (rows need not sum to one)."""
        return torch.sigmoid(self.logits(scores))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"log_temperature": self.log_t.clone(), "bias": self.bias.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.log_t = state["log_temperature"].float().reshape(-1)
        self.bias = state["bias"].float().reshape(-1)


def _fit_bce(scores: torch.Tensor, targets: torch.Tensor, log_t: torch.Tensor, bias: torch.Tensor,
             prior: tuple[torch.Tensor, torch.Tensor] | None, weight: float,
             max_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    log_t = log_t.double().clone().requires_grad_(True)
    bias = bias.double().clone().requires_grad_(True)
    s, y = scores.double(), targets.double()
    optimiser = torch.optim.LBFGS([log_t, bias], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.binary_cross_entropy_with_logits((s - bias) / log_t.exp(), y)
        if prior is not None and weight > 0:
            prior_t, prior_b = (p.double() for p in prior)
            loss = loss + weight * (((log_t - prior_t) ** 2).sum()
                                    + (((bias - prior_b) / prior_t.exp()) ** 2).sum())
        loss.backward()
        return loss

    optimiser.step(closure)
    return log_t.detach().float(), bias.detach().float()


def _check_pair(probs: torch.Tensor | np.ndarray, targets: torch.Tensor | np.ndarray
                ) -> tuple[torch.Tensor, torch.Tensor]:
    probs, targets = torch.as_tensor(probs).float(), torch.as_tensor(targets).float()
    if probs.ndim != 2 or probs.shape != targets.shape:
        raise ValueError(f"expected scores and targets of one shape [N, C], got {tuple(probs.shape)} "
                         f"and {tuple(targets.shape)}")
    if not torch.all((targets == 0) | (targets == 1)):
        raise ValueError("targets must be 0/1")
    return probs, targets


def fit_thresholds(probs: torch.Tensor | np.ndarray, targets: torch.Tensor | np.ndarray, *,
                   default: float = 0.5) -> torch.Tensor:
    """Per-class thresholds maximising F1 on validation data.

    Each threshold sits halfway between the best-F1 probability and the next
    lower one, so a test example a hair below the validation cut-off is not
    flipped. A class with no validation positive keeps ``default``.
    """
    from sklearn.metrics import precision_recall_curve

    probs, targets = _check_pair(probs, targets)
    out = torch.full((probs.shape[1],), float(default))
    for c in range(probs.shape[1]):
        y, p = targets[:, c].numpy(), probs[:, c].numpy()
        if y.sum() == 0:
            continue
        precision, recall, cuts = precision_recall_curve(y, p)
        f1 = 2 * precision[:-1] * recall[:-1] / np.clip(precision[:-1] + recall[:-1], 1e-12, None)
        best = float(cuts[int(np.argmax(f1))])
        below = p[p < best]
        out[c] = (best + float(below.max())) / 2 if below.size else best
    return out


def multilabel_ece(probs: torch.Tensor | np.ndarray, targets: torch.Tensor | np.ndarray, *,
                   bins: int = 15) -> float:
    """Expected calibration error over all N x C class probabilities.

    Every (example, class) pair is one binary prediction: in each of ``bins``
    equal-width probability bins (the binning of :mod:`unibind.calibration.metrics`),
    compare the mean probability with the fraction that are positive,
    weighted by the bin's share of pairs.
    """
    probs, targets = _check_pair(probs, targets)
    found = bin_confidences(probs.flatten(), targets.flatten(), n_bins=bins)
    return float((found.count * found.gaps).sum() / found.count.sum())


def multilabel_report(probs: torch.Tensor | np.ndarray, targets: torch.Tensor | np.ndarray,
                      thresholds: torch.Tensor | float = 0.5, *, bins: int = 15) -> dict[str, float]:
    """mAP (macro over classes with a positive), micro/macro F1 at ``thresholds``, multi-label ECE, Brier."""
    from sklearn.metrics import average_precision_score, f1_score

    probs, targets = _check_pair(probs, targets)
    present = targets.sum(0) > 0
    if not bool(present.any()):
        raise ValueError("no class has a positive example: mAP is undefined")
    predicted = (probs >= torch.as_tensor(thresholds, dtype=probs.dtype)).numpy().astype(int)
    y = targets.numpy().astype(int)
    return {
        "mAP": float(average_precision_score(y[:, present.numpy()], probs.numpy()[:, present.numpy()],
                                             average="macro")),
        "micro_f1": float(f1_score(y, predicted, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y[:, present.numpy()], predicted[:, present.numpy()], average="macro",
                                   zero_division=0)),
        "ece": multilabel_ece(probs, targets, bins=bins),
        "brier": float(((probs - targets) ** 2).mean()),
    }
