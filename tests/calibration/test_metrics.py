"""Calibration metrics against torchmetrics and against cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics.classification import MulticlassCalibrationError
from torchmetrics.functional.classification.calibration_error import _ce_compute

from unibind.calibration import metrics


def _random(n=2000, c=7, seed=0, sharpness=3.0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=gen, dtype=torch.float64) * sharpness
    labels = torch.multinomial(torch.softmax(logits / 2, -1), 1, generator=gen).squeeze(1)
    return torch.softmax(logits, -1), labels


@pytest.mark.parametrize("n_bins", [5, 15, 30])
@pytest.mark.parametrize("seed", [0, 1])
def test_ece_and_mce_agree_with_torchmetrics(n_bins, seed):
    probs, labels = _random(seed=seed)
    for norm, ours in (("l1", metrics.ece), ("max", metrics.mce)):
        theirs = MulticlassCalibrationError(num_classes=7, n_bins=n_bins, norm=norm)(probs, labels)
        assert ours(probs, labels, n_bins) == pytest.approx(float(theirs), abs=1e-6)


def test_ece_agrees_with_torchmetrics_when_confidences_hit_exactly_one():
    probs, labels = _random(seed=3, sharpness=60.0)       # saturated: many confidences are exactly 1.0
    assert (probs.max(-1).values == 1.0).sum() > 100
    theirs = MulticlassCalibrationError(num_classes=7, n_bins=15)(probs, labels)
    assert metrics.ece(probs, labels) == pytest.approx(float(theirs), abs=1e-6)


def test_equal_mass_ece_agrees_with_torchmetrics_given_the_same_bin_edges():
    probs, labels = _random(seed=5)
    confidence, predicted = probs.max(-1)
    bins = metrics.bin_confidences(confidence, predicted == labels, 10, "mass")
    # our equal-mass bins as edges: halfway between the last of one bin and the first of the next
    edges = torch.tensor([0.0] + [(hi + lo) / 2 for hi, lo in zip(bins.upper[:-1], bins.lower[1:])] + [1.0 + 1e-9],
                         dtype=torch.float64)
    theirs = _ce_compute(confidence, (predicted == labels).double(), edges)
    assert metrics.ece(probs, labels, 10, "mass") == pytest.approx(float(theirs), abs=1e-6)
    assert bins.count.tolist() == [200] * 10


def test_ece_by_hand():
    # four samples, two bins of width 0.5:
    # bin [0, .5): confidences .4 (right), .45 (wrong) -> mean conf .425, acc .5, gap .075, weight .5
    # bin [.5, 1): confidences .9 (right), .7 (right)  -> mean conf .8,   acc 1,  gap .2,   weight .5
    probs = torch.tensor([[.4, .3, .3], [.45, .35, .2], [.9, .05, .05], [.1, .7, .2]])
    labels = torch.tensor([0, 1, 0, 1])
    assert metrics.ece(probs, labels, n_bins=2) == pytest.approx(0.5 * 0.075 + 0.5 * 0.2)
    assert metrics.mce(probs, labels, n_bins=2) == pytest.approx(0.2)
    # equal mass with 2 bins: sorted .4 .45 | .7 .9 -> the same groups here
    assert metrics.ece(probs, labels, n_bins=2, binning="mass") == pytest.approx(0.1375)
    # Brier: sample 1: (.6^2 + .3^2 + .3^2) = .54; 2: (.45^2 + .65^2 + .2^2) = .665; 3: (.1^2+.05^2+.05^2) = .015;
    # 4: (.1^2 + .3^2 + .2^2) = .14
    assert metrics.brier(probs, labels) == pytest.approx((.54 + .665 + .015 + .14) / 4)
    assert metrics.nll(probs, labels) == pytest.approx(-(math.log(.4) + math.log(.35) + math.log(.9) + math.log(.7)) / 4)


def test_perfectly_calibrated_predictions_have_zero_ece_and_one_hot_have_zero_entropy():
    # in each bin accuracy equals confidence: 10 samples at .8 of which 8 are right
    probs = torch.tensor([[.8, .2]] * 10, dtype=torch.float64)
    labels = torch.tensor([0] * 8 + [1] * 2)
    assert metrics.ece(probs, labels) == pytest.approx(0.0, abs=1e-12)
    assert float(metrics.entropy(torch.tensor([[1.0, 0.0]]))) == pytest.approx(0.0, abs=1e-9)
    assert float(metrics.entropy(torch.full((1, 4), .25))) == pytest.approx(math.log(4))


def test_adaptive_ece_by_hand():
    # two classes, 1 bin per class: class 0 mean p=.6, frequency .5 -> .1; class 1 mean p=.4, frequency .5 -> .1
    probs = torch.tensor([[.7, .3], [.5, .5]])
    labels = torch.tensor([0, 1])
    assert metrics.adaptive_ece(probs, labels, n_bins=1) == pytest.approx(0.1)
    # two bins per class: each bin one sample: class 0 gaps |1-.7|, |0-.5| -> .4; class 1 gaps |0-.3|, |1-.5| -> .4
    assert metrics.adaptive_ece(probs, labels, n_bins=2) == pytest.approx(0.4)


def test_mistake_auroc_separates_confident_right_from_unsure_wrong():
    probs = torch.tensor([[.9, .1], [.8, .2], [.55, .45], [.6, .4]])
    labels = torch.tensor([0, 0, 1, 1])                     # the two unsure ones are wrong
    assert metrics.mistake_auroc(probs, labels) == pytest.approx(1.0)
    assert metrics.mistake_auroc(probs, torch.tensor([1, 1, 0, 0])) == pytest.approx(0.0)
    assert math.isnan(metrics.mistake_auroc(probs, torch.zeros(4, dtype=torch.long)))


def test_report_and_bad_inputs():
    probs, labels = _random(n=300)
    report = metrics.calibration_report(probs, labels)
    assert report.n == 300 and 0 <= report.ece <= 1 and report.mce >= report.ece
    assert set(report.as_dict()) >= {"ece", "ece_equal_mass", "adaptive_ece", "brier", "nll", "mistake_auroc"}
    with pytest.raises(ValueError, match="labels must lie"):
        metrics.ece(probs, torch.full((300,), 9))
    with pytest.raises(ValueError, match=r"probs \[N, C\]"):
        metrics.ece(probs[0], labels)


def test_risk_coverage_accepts_ties_together_and_selective_counts():
    coverage, risk = metrics.risk_coverage([.9, .8, .8, .3], [1, 0, 1, 0])
    assert coverage.tolist() == [.25, .75, 1.0]
    assert risk.tolist() == pytest.approx([0.0, 1 / 3, 0.5])
    cov, acc = metrics.selective(np.array([True, True, False, False]), [1, 0, 1, 0])
    assert (cov, acc) == (0.5, 0.5)
    assert math.isnan(metrics.selective([False, False], [1, 1])[1])
