"""Calibration metrics on ``probs [N, C]`` and integer ``labels [N]``.

Binning conventions (kept identical to torchmetrics' ``CalibrationError`` so the two agree):
equal-width bins are ``[lo, hi)`` over ``linspace(0, 1, n_bins + 1)``; a confidence of exactly
1.0 falls in its own last slot (torchmetrics' behaviour: ``bucketize(right=True)``). Equal-mass
bins split the samples sorted by confidence into ``n_bins`` groups of (nearly) equal size, so
ties at a saturated 1.0 cannot leave bins empty. Adaptive ECE is Nixon et al.'s (2019) adaptive
calibration error: class-wise, with equal-mass bins per class.

The predicted class is :func:`ranked_classes`' first, everywhere (these metrics, the reliability
diagrams, ``classify``): equal probabilities are told apart by the scores they came from when the
caller gives them, else by class order; so a metric counts right exactly what ``classify`` named.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch

Binning = Literal["width", "mass"]
DEFAULT_BINS = 15


def _check(probs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    probs, labels = torch.as_tensor(probs).double(), torch.as_tensor(labels).long()
    if probs.ndim != 2 or labels.ndim != 1 or probs.shape[0] != labels.shape[0]:
        raise ValueError(f"expected probs [N, C] and labels [N], got {tuple(probs.shape)} and {tuple(labels.shape)}")
    if probs.shape[0] == 0:
        raise ValueError("no samples")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"labels must lie in [0, {probs.shape[1]}), got {int(labels.min())}..{int(labels.max())}")
    # scores or logits here would give a confidence that means nothing, silently
    if not (probs.min() >= 0 and probs.max() <= 1 and torch.allclose(probs.sum(-1), torch.ones(1, dtype=probs.dtype),
                                                                       atol=1e-3)):
        raise ValueError("probs must be probabilities (each row in [0, 1], summing to 1): pass scores or logits "
                         "through softmax or a calibrator first, and give them as scores= to break ties")
    return probs, labels


def ranked_classes(probs: torch.Tensor, scores: torch.Tensor | None = None) -> torch.Tensor:
    """``[N, C]`` class indices by probability, equal probabilities by score (then by class order).

    A calibrator that flattens the probabilities (a huge temperature) makes
    them equal in float32 although the cosines differ; ``topk`` then picks
    among the tied classes in no defined order, so the printed label
    disagreed with the space's own top-1 (``eval report``, the demo). An
    order-preserving calibrator therefore never changes the ranking.
    """
    probs = torch.as_tensor(probs)
    if scores is None:
        return probs.argsort(dim=-1, descending=True, stable=True)
    by_score = torch.as_tensor(scores).argsort(dim=-1, descending=True, stable=True)
    by_probability = probs.gather(-1, by_score).argsort(dim=-1, descending=True, stable=True)
    return by_score.gather(-1, by_probability)


def top_class(probs: torch.Tensor, scores: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(confidence, predicted)`` of each row: :func:`ranked_classes`' first class and its probability."""
    probs = torch.as_tensor(probs)
    predicted = ranked_classes(probs, scores)[..., 0]
    return probs.gather(-1, predicted[..., None])[..., 0], predicted


@dataclass
class Bins:
    """Per-bin mean confidence, accuracy and sample count (empty bins have count 0)."""

    lower: np.ndarray
    upper: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray

    @property
    def gaps(self) -> np.ndarray:
        return np.abs(self.accuracy - self.confidence)


def bin_confidences(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = DEFAULT_BINS,
                    binning: Binning = "width") -> Bins:
    """Group (confidence, correct) pairs into bins; see the module docstring for the conventions."""
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    conf = torch.as_tensor(confidence).double().flatten()
    hit = torch.as_tensor(correct).double().flatten()
    if binning == "width":
        # k / n rather than linspace: linspace's 0.30000000000000004 put a confidence of 0.3 in the 0.2-0.3 bin
        edges = torch.arange(n_bins + 1, dtype=torch.float64) / n_bins
        index = torch.bucketize(conf, edges, right=True) - 1          # [lo, hi); exactly 1.0 -> slot n_bins
        slots = n_bins + 1
        lower = edges.numpy().copy()
        upper = np.append(edges[1:].numpy(), 1.0)
    elif binning == "mass":
        order = torch.argsort(conf, stable=True)
        index = torch.empty_like(order)
        for b, part in enumerate(torch.tensor_split(order, min(n_bins, conf.numel()))):
            index[part] = b
        slots = int(index.max()) + 1
        lower = np.array([float(conf[index == b].min()) for b in range(slots)])
        upper = np.array([float(conf[index == b].max()) for b in range(slots)])
    else:
        raise ValueError(f"unknown binning {binning!r} (width, mass)")
    count = torch.zeros(slots, dtype=torch.float64).scatter_add_(0, index, torch.ones_like(conf))
    conf_sum = torch.zeros(slots, dtype=torch.float64).scatter_add_(0, index, conf)
    hit_sum = torch.zeros(slots, dtype=torch.float64).scatter_add_(0, index, hit)
    safe = count.clamp_min(1)
    return Bins(lower, upper, (conf_sum / safe).numpy(), (hit_sum / safe).numpy(), count.numpy())


def _top(probs: torch.Tensor, labels: torch.Tensor, scores: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    confidence, predicted = top_class(probs, scores)
    return confidence, (predicted == labels).double()


def ece(probs, labels, n_bins: int = DEFAULT_BINS, binning: Binning = "width", scores=None) -> float:
    """Expected calibration error of the top label: sum over bins of weight x |accuracy - confidence|."""
    probs, labels = _check(probs, labels)
    bins = bin_confidences(*_top(probs, labels, scores), n_bins, binning)
    return float((bins.count / bins.count.sum() * bins.gaps).sum())


def mce(probs, labels, n_bins: int = DEFAULT_BINS, binning: Binning = "width", scores=None) -> float:
    """Maximum calibration error: the largest gap over non-empty bins."""
    probs, labels = _check(probs, labels)
    bins = bin_confidences(*_top(probs, labels, scores), n_bins, binning)
    return float(bins.gaps[bins.count > 0].max())


def adaptive_ece(probs, labels, n_bins: int = DEFAULT_BINS) -> float:
    """Adaptive calibration error (Nixon et al. 2019): class-wise, equal-mass bins, mean over bins and classes."""
    probs, labels = _check(probs, labels)
    total = 0.0
    classes = probs.shape[1]
    for k in range(classes):
        bins = bin_confidences(probs[:, k], (labels == k).double(), n_bins, "mass")
        total += float(bins.gaps[bins.count > 0].mean())
    return total / classes


def brier(probs, labels) -> float:
    """Multi-class Brier score: mean over samples of the squared distance to the one-hot label."""
    probs, labels = _check(probs, labels)
    onehot = torch.nn.functional.one_hot(labels, probs.shape[1]).double()
    return float(((probs - onehot) ** 2).sum(-1).mean())


def nll(probs, labels, eps: float = 1e-12) -> float:
    """Negative log-likelihood of the true labels, in nats (probabilities clamped at ``eps``)."""
    probs, labels = _check(probs, labels)
    return float(-probs.gather(1, labels[:, None]).clamp_min(eps).log().mean())


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats along the last axis."""
    probs = torch.as_tensor(probs)
    return -(probs * probs.clamp_min(1e-12).log()).sum(-1)


def mistake_auroc(probs, labels, scores=None) -> float:
    """AUROC of (1 - confidence) as a detector of wrong predictions; NaN if all are right or all wrong."""
    from sklearn.metrics import roc_auc_score

    probs, labels = _check(probs, labels)
    confidence, correct = _top(probs, labels, scores)
    wrong = (1 - correct).numpy()
    if wrong.min() == wrong.max():
        return math.nan
    return float(roc_auc_score(wrong, (1 - confidence).numpy()))


@dataclass
class CalibrationReport:
    """Every metric of one set of predictions (JSON-ready through :meth:`as_dict`)."""

    n: int
    accuracy: float
    ece: float
    ece_equal_mass: float
    mce: float
    adaptive_ece: float
    brier: float
    nll: float
    entropy: float
    mistake_auroc: float
    n_bins: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def calibration_report(probs, labels, n_bins: int = DEFAULT_BINS, scores=None) -> CalibrationReport:
    """All the metrics at once; ``scores`` (what ``probs`` came from) break ties in the predicted class."""
    probs, labels = _check(probs, labels)
    return CalibrationReport(
        n=int(labels.numel()), accuracy=float(_top(probs, labels, scores)[1].mean()),
        ece=ece(probs, labels, n_bins, scores=scores), ece_equal_mass=ece(probs, labels, n_bins, "mass", scores),
        mce=mce(probs, labels, n_bins, scores=scores), adaptive_ece=adaptive_ece(probs, labels, n_bins),
        brier=brier(probs, labels), nll=nll(probs, labels), entropy=float(entropy(probs).mean()),
        mistake_auroc=mistake_auroc(probs, labels, scores), n_bins=n_bins,
    )


def risk_coverage(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    """Coverage and selective risk (error rate of the accepted) when accepting the most confident first.

    Ties in confidence are accepted together, so the curve does not depend on sample order.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        raise ValueError("no samples")
    order = np.argsort(-conf, kind="stable")
    conf, hit = conf[order], hit[order]
    last_of_tie = np.r_[conf[1:] != conf[:-1], True]
    accepted = np.arange(1, conf.size + 1)[last_of_tie]
    errors = np.cumsum(1 - hit)[last_of_tie]
    return accepted / conf.size, errors / accepted


def selective(accepted, correct) -> tuple[float, float]:
    """(coverage, accuracy) of the accepted predictions (boolean mask); accuracy is NaN if none."""
    keep = np.asarray(accepted, dtype=bool)
    hit = np.asarray(correct, dtype=np.float64)
    return float(keep.mean()), float(hit[keep].mean()) if keep.any() else math.nan
