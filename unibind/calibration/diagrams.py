"""Reliability diagrams with confidence histograms, and risk-coverage curves, as PNG files.

Figures are built with matplotlib's object API (no pyplot global state, no display
needed) and written atomically. The HTML report embeds the PNGs these functions write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from unibind.atomic import save_figure
from unibind.calibration.metrics import DEFAULT_BINS, bin_confidences, ece, top_class


def _draw_reliability(ax_rel, ax_hist, probs: torch.Tensor, labels: torch.Tensor, n_bins: int, title: str,
                      scores: torch.Tensor | None = None) -> None:
    probs, labels = torch.as_tensor(probs).double(), torch.as_tensor(labels).long()
    confidence, predicted = top_class(probs, scores)   # the class ECE and classify take, ties and all
    correct = (predicted == labels).double()
    bins = bin_confidences(confidence, correct, n_bins, "width")
    width = 1.0 / n_bins
    centres = (np.arange(n_bins) + 0.5) * width
    # the torchmetrics-compatible extra slot holds confidences of exactly 1.0: draw it with the last bin
    count, acc, conf = bins.count.copy(), bins.accuracy.copy(), bins.confidence.copy()
    if count[-1] > 0:
        merged = count[-2] + count[-1]
        acc[-2] = (acc[-2] * count[-2] + acc[-1] * count[-1]) / merged
        conf[-2] = (conf[-2] * count[-2] + conf[-1] * count[-1]) / merged
        count[-2] = merged
    count, acc, conf = count[:n_bins], acc[:n_bins], conf[:n_bins]
    filled = count > 0
    ax_rel.bar(centres[filled], acc[filled], width=width, edgecolor="black", color="#4c72b0", label="accuracy")
    # the gap to confidence, one colour per direction, both in the legend
    over, under = filled & (conf > acc), filled & (conf < acc)
    ax_rel.bar(centres[over], conf[over] - acc[over], bottom=acc[over], width=width, color="#dd8452",
               alpha=0.6, edgecolor="#dd8452", hatch="//", label="over-confident (confidence > accuracy)")
    ax_rel.bar(centres[under], acc[under] - conf[under], bottom=conf[under], width=width, color="#8172b3",
               alpha=0.6, edgecolor="#8172b3", hatch="\\\\", label="under-confident (accuracy > confidence)")
    ax_rel.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax_rel.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy",
               title=f"{title}\nECE {ece(probs, labels, n_bins, scores=scores):.3f}, accuracy {correct.mean():.3f}, n={len(labels)}")
    ax_hist.bar(centres, count / count.sum(), width=width, edgecolor="black", color="#55a868")
    ax_hist.axvline(float(confidence.mean()), color="#c44e52", linestyle="--", label="mean confidence")
    ax_hist.axvline(float(correct.mean()), color="black", linestyle=":", label="accuracy")
    ax_hist.set(xlim=(0, 1), xlabel="confidence", ylabel="share of samples")
    ax_hist.legend(loc="best", fontsize=7)


def reliability_diagram(probs, labels, path: str | Path, *, n_bins: int = DEFAULT_BINS, title: str = "",
                        scores=None) -> Path:
    """One reliability diagram (accuracy per confidence bin) over its confidence histogram."""
    return reliability_diagrams({title: probs}, labels, path, n_bins=n_bins, scores=scores)


def reliability_diagrams(panels: Mapping[str, torch.Tensor], labels, path: str | Path, *,
                         n_bins: int = DEFAULT_BINS, scores=None) -> Path:
    """Side-by-side diagrams of several probability sets for the same labels (e.g. before / after).

    ``scores``: what every panel's probabilities came from (logits or cosines); they break ties in the
    predicted class as ``classify`` does.
    """
    from matplotlib.figure import Figure

    if not panels:
        raise ValueError("no probabilities to draw")
    fig = Figure(figsize=(4.6 * len(panels), 7.0), layout="constrained")
    axes = fig.subplots(2, len(panels), squeeze=False, sharex="col", gridspec_kw={"height_ratios": [3, 1.2]})
    for column, (title, probs) in enumerate(panels.items()):
        _draw_reliability(axes[0, column], axes[1, column], probs, labels, n_bins, title, scores)
    # one legend for every panel, below them: it never covers a bar, and lists both gap colours
    # even when a panel has bins of only one kind
    from matplotlib.patches import Patch

    handles = [Patch(facecolor="#4c72b0", edgecolor="black", label="accuracy"),
               Patch(facecolor="#dd8452", alpha=0.6, hatch="//", edgecolor="#dd8452",
                     label="over-confident (confidence > accuracy)"),
               Patch(facecolor="#8172b3", alpha=0.6, hatch="\\\\", edgecolor="#8172b3",
                     label="under-confident (accuracy > confidence)")]
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], linestyle="--", color="grey", label="perfect calibration"))
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return save_figure(fig, path)


def risk_coverage_plot(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path, *,
                       points: Mapping[str, tuple[float, float]] | None = None, title: str = "") -> Path:
    """Selective risk against coverage for each named curve; ``points`` marks operating points (coverage, risk)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.6, 4.2))
    ax = fig.subplots()
    for name, (coverage, risk) in curves.items():
        ax.step(coverage, risk, where="post", label=name)
    for name, (coverage, risk) in (points or {}).items():
        ax.plot([coverage], [risk], "o", label=name)
    ax.set(xlim=(0, 1), ylim=(0, None), xlabel="coverage (share of predictions accepted)",
           ylabel="risk (error rate of the accepted)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
