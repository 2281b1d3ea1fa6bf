"""What the calibration metrics refuse, and their answer when nothing is accepted.

Found by the full (not sampled) mutation run of calibration/metrics.py: these edges were
unchecked (scripts/mutation.py calibration/metrics; docs/mutation-survivors.md).
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from unibind.calibration.metrics import bin_confidences, ece, risk_coverage, selective

PROBS = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])


@pytest.mark.parametrize(("labels", "problem"), [
    (torch.tensor([0, 3]), r"^labels must lie in \[0, 3\), got 0\.\.3$"),  # a label equal to the class count
    (torch.tensor([-1, 1]), r"^labels must lie in \[0, 3\), got -1\.\.1$"),
    (torch.tensor([[0], [1]]), r"^expected probs \[N, C\] and labels \[N\], got \(2, 3\) and \(2, 1\)$"),
    (torch.tensor([0, 1, 2]), r"^expected probs \[N, C\] and labels \[N\], got \(2, 3\) and \(3,\)$"),
])
def test_labels_that_do_not_fit_the_probabilities_are_refused(labels, problem):
    with pytest.raises(ValueError, match=problem):
        ece(PROBS, labels)


def test_no_samples_or_no_bins_are_refused_by_name():
    with pytest.raises(ValueError, match="^no samples$"):
        ece(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="^no samples$"):
        risk_coverage([], [])
    with pytest.raises(ValueError, match=r"^n_bins must be >= 1$"):
        bin_confidences(torch.tensor([0.5]), torch.tensor([1.0]), n_bins=0)


def test_selective_accuracy_is_nan_when_nothing_is_accepted():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and says so without numpy's "mean of empty slice" warning
        coverage, accuracy = selective([False, False, False], [1, 0, 1])
    assert coverage == 0.0 and math.isnan(accuracy)
    assert selective([True, False, True, False], [1, 1, 0, 0]) == (0.5, 0.5)
    # a 0/1 mask is a mask, not a list of indices
    assert selective([1, 0, 0, 0], [0, 1, 1, 1]) == (0.25, 0.0)


def test_a_confidence_written_as_a_decimal_bin_edge_starts_that_bin():
    """0.1, 0.2, ... with 10 bins open bins 1, 2, ... (0.3 included: linspace's edge is 0.30000000000000004)."""
    confidences = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], dtype=torch.float64)
    bins = bin_confidences(confidences, torch.ones(9), n_bins=10)
    assert [int(b) for b in bins.count.nonzero()[0]] == [1, 2, 3, 4, 5, 6, 7, 8, 9]


@pytest.mark.parametrize("n_bins", [3, 7, 10, 15, 20, 30])
def test_every_lower_edge_k_over_n_falls_in_its_own_bin(n_bins):
    confidences = torch.tensor([k / n_bins for k in range(n_bins)], dtype=torch.float64)
    bins = bin_confidences(confidences, torch.ones(n_bins), n_bins=n_bins)
    assert [int(c) for c in bins.count[:n_bins]] == [1] * n_bins
