"""ECE, MCE, AUROC, accuracy and the reliability diagram count right the class ``classify`` names.

They used to take ``probs.max(-1)`` (the first of equal probabilities) while ``classify`` breaks
such ties by score (``ranked_classes``); an isotonic or flattening calibrator makes ties common.
"""

from __future__ import annotations

import pytest
import torch

from unibind.calibration import diagrams
from unibind.calibration.metrics import calibration_report, ece, ranked_classes

# rows 0 and 1 tie at the top; the scores favour the second tied class, which is the true one
PROBS = torch.tensor([[0.4, 0.4, 0.2], [0.45, 0.45, 0.1], [0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
SCORES = torch.tensor([[0.20, 0.30, 0.10], [0.1, 0.5, 0.2], [0.9, 0.1, 0.0], [0.0, 0.1, 0.8]])
LABELS = torch.tensor([1, 1, 0, 1])


def test_metrics_count_right_what_classify_names():
    named = ranked_classes(PROBS, SCORES)[:, 0]
    assert named.tolist() == [1, 1, 0, 2]
    report = calibration_report(PROBS, LABELS, scores=SCORES)
    assert report.accuracy == pytest.approx(float((named == LABELS).double().mean()))   # 3 of 4
    # one bin per sample: ECE is the mean |right - confidence| of the named class
    right = (named == LABELS).double()
    confidence = PROBS.gather(1, named[:, None])[:, 0].double()
    assert ece(PROBS, LABELS, n_bins=100, scores=SCORES) == pytest.approx(float((right - confidence).abs().mean()))
    # the one wrong row (0.6) is less confident only than the right 0.7: it ranks above 1 of 3 right rows
    assert report.mistake_auroc == pytest.approx(1 / 3)


def test_the_reliability_diagram_bins_the_same_hits(tmp_path, monkeypatch):
    seen = []
    real = diagrams.bin_confidences
    monkeypatch.setattr(diagrams, "bin_confidences",
                        lambda conf, hit, *a: seen.append(hit.tolist()) or real(conf, hit, *a))
    diagrams.reliability_diagram(PROBS, LABELS, tmp_path / "r.png", scores=SCORES)
    assert seen == [(ranked_classes(PROBS, SCORES)[:, 0] == LABELS).double().tolist()]


def test_scores_passed_as_probabilities_are_refused():
    with pytest.raises(ValueError, match="must be probabilities"):
        ece(SCORES * 10, LABELS)
    with pytest.raises(ValueError, match="must be probabilities"):
        calibration_report(torch.log(PROBS), LABELS)
