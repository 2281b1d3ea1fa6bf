"""Calibration metrics where random inputs never go: confidences exactly on a bin edge, tiny inputs.

The torchmetrics comparisons in test_metrics.py draw random confidences, which never sit on an
inner edge, so they cannot tell ``[lo, hi)`` bins from ``(lo, hi]``; these cases can.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics.classification import MulticlassCalibrationError

from unibind.calibration import metrics


def _on_edges():
    """Top confidences exactly on the inner edges of 4 equal-width bins (dyadic: exact in float32 too)."""
    probs = torch.tensor([[.5, .5, 0, 0], [.5, .5, 0, 0], [.75, .25, 0, 0], [.25, .75, 0, 0],
                          [.25, .25, .25, .25], [1.0, 0, 0, 0], [.5, .25, .25, 0], [.75, 0, .25, 0]],
                         dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 0, 3, 0, 1, 0])
    return probs, labels


@pytest.mark.parametrize("n_bins", [2, 4, 8])
def test_confidences_on_bin_edges_agree_with_torchmetrics(n_bins):
    probs, labels = _on_edges()
    for norm, ours in (("l1", metrics.ece), ("max", metrics.mce)):
        theirs = MulticlassCalibrationError(num_classes=4, n_bins=n_bins, norm=norm)(probs, labels)
        assert ours(probs, labels, n_bins) == pytest.approx(float(theirs), abs=1e-6), norm  # theirs: float32


def test_a_confidence_on_an_inner_edge_belongs_to_the_upper_bin():
    # two bins [0, .5) and [.5, 1): both .5s (right) join the .75s, one right and one wrong:
    # one bin, mean confidence .625, accuracy .75 -> ECE .125.
    # Were .5 in the lower bin: .5 x |1 - .5| + .5 x |.5 - .75| = .375.
    probs = torch.tensor([[.5, .5], [.5, .5], [.75, .25], [.25, .75]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 0])
    assert metrics.ece(probs, labels, n_bins=2) == pytest.approx(0.125)
    assert metrics.mce(probs, labels, n_bins=2) == pytest.approx(0.125)
    bins = metrics.bin_confidences(probs.max(-1).values, torch.ones(4), n_bins=2)
    assert bins.count.tolist() == [0, 4, 0]


def test_width_bins_report_their_edges_and_exactly_one_gets_its_own_slot():
    bins = metrics.bin_confidences(torch.tensor([0.1, 0.3, 1.0]), torch.tensor([1, 0, 1]), n_bins=4)
    assert bins.lower.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert bins.upper.tolist() == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert bins.count.tolist() == [1, 1, 0, 0, 1]
    assert bins.confidence.tolist() == pytest.approx([0.1, 0.3, 0, 0, 1.0])
    assert bins.accuracy.tolist() == [1, 0, 0, 0, 1]
    assert bins.gaps.tolist() == pytest.approx([0.9, 0.3, 0, 0, 0])


def test_mass_bins_with_fewer_samples_than_bins_and_their_ranges():
    bins = metrics.bin_confidences(torch.tensor([0.9, 0.2, 0.6]), torch.tensor([1, 0, 0]), n_bins=10,
                                   binning="mass")
    assert bins.count.tolist() == [1, 1, 1]                  # one sample each, no empty bins
    assert bins.lower.tolist() == pytest.approx([0.2, 0.6, 0.9])
    assert bins.upper.tolist() == pytest.approx([0.2, 0.6, 0.9])
    assert bins.accuracy.tolist() == [0, 0, 1]
    two = metrics.bin_confidences(torch.tensor([0.9, 0.2, 0.6, 0.4]), torch.tensor([1, 0, 0, 1]), n_bins=2,
                                  binning="mass")
    assert two.lower.tolist() == pytest.approx([0.2, 0.6]) and two.upper.tolist() == pytest.approx([0.4, 0.9])
    assert two.confidence.tolist() == pytest.approx([0.3, 0.75])


def test_bad_bin_settings_are_refused():
    with pytest.raises(ValueError, match="n_bins"):
        metrics.bin_confidences(torch.tensor([0.5]), torch.tensor([1]), n_bins=0)
    with pytest.raises(ValueError, match="unknown binning 'quantile'"):
        metrics.bin_confidences(torch.tensor([0.5]), torch.tensor([1]), binning="quantile")
    with pytest.raises(ValueError, match="no samples"):
        metrics.ece(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\), got -1\.\.1"):
        metrics.brier(torch.full((2, 2), .5), torch.tensor([-1, 1]))
    with pytest.raises(ValueError, match=r"got \(3, 2\) and \(2,\)"):
        metrics.nll(torch.full((3, 2), .5), torch.tensor([0, 1]))


def test_mce_is_the_largest_gap_and_adaptive_ece_averages_classes():
    probs, labels = _on_edges()
    bins = metrics.bin_confidences(probs.max(-1).values, (probs.argmax(-1) == labels), n_bins=4)
    assert metrics.mce(probs, labels, 4) == pytest.approx(float(bins.gaps[bins.count > 0].max()))
    # equal-mass, 2 bins, by hand: sorted (.25 wrong, .5 right, .5 right, .5 wrong | .75 right, .75 wrong,
    # .75 right, 1 right): gaps |.5 - .4375| and |.75 - .8125|, both .0625; equal-width 2 bins: .25
    assert metrics.mce(probs, labels, 2, "mass") == pytest.approx(0.0625)
    assert metrics.ece(probs, labels, 2, "mass") == pytest.approx(0.0625)
    assert metrics.mce(probs, labels, 2) == pytest.approx(0.25)
    # adaptive ECE is the mean over classes of each class's mean equal-mass gap
    per_class = []
    for k in range(4):
        b = metrics.bin_confidences(probs[:, k], (labels == k).double(), 3, "mass")
        per_class.append(float(np.mean(b.gaps[b.count > 0])))
    assert metrics.adaptive_ece(probs, labels, 3) == pytest.approx(sum(per_class) / 4)
    assert metrics.adaptive_ece(probs, labels, 3) != pytest.approx(sum(per_class))


def test_nll_clamps_a_zero_probability_at_eps():
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    labels = torch.tensor([1, 0])
    assert metrics.nll(probs, labels) == pytest.approx(-(math.log(1e-12) + math.log(0.5)) / 2)
    assert metrics.nll(probs, labels, eps=1e-3) == pytest.approx(-(math.log(1e-3) + math.log(0.5)) / 2)


def test_entropy_is_along_the_last_axis_and_ignores_zeros():
    probs = torch.tensor([[[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]])
    assert metrics.entropy(probs).shape == (1, 2)
    assert metrics.entropy(probs)[0].tolist() == pytest.approx([math.log(2), 0.0])


def test_the_report_holds_exactly_what_each_metric_returns():
    gen = torch.Generator().manual_seed(4)
    probs = torch.softmax(torch.randn(120, 5, generator=gen, dtype=torch.float64) * 3, -1)
    labels = torch.randint(0, 5, (120,), generator=gen)
    report = metrics.calibration_report(probs, labels, n_bins=7).as_dict()
    assert report == {
        "n": 120, "accuracy": pytest.approx(float((probs.argmax(-1) == labels).double().mean())),
        "ece": metrics.ece(probs, labels, 7), "ece_equal_mass": metrics.ece(probs, labels, 7, "mass"),
        "mce": metrics.mce(probs, labels, 7), "adaptive_ece": metrics.adaptive_ece(probs, labels, 7),
        "brier": metrics.brier(probs, labels), "nll": metrics.nll(probs, labels),
        "entropy": pytest.approx(float(metrics.entropy(probs).mean())),
        "mistake_auroc": metrics.mistake_auroc(probs, labels), "n_bins": 7,
    }
    assert report["ece"] != report["ece_equal_mass"]


def test_risk_coverage_orders_by_confidence_not_by_input_order():
    coverage, risk = metrics.risk_coverage([.3, .9, .6], [0, 1, 0])
    assert coverage.tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert risk.tolist() == pytest.approx([0.0, 0.5, 2 / 3])
    with pytest.raises(ValueError, match="no samples"):
        metrics.risk_coverage([], [])
    assert metrics.selective([True, False, True], [1, 1, 0]) == (pytest.approx(2 / 3), 0.5)
