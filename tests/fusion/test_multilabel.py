"""Multi-label calibration, thresholds and metrics on simulated scores (named so) with a known truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from unibind.calibration.multilabel import (
    PerClassTemperature,
    PerClassTemperatureSettings,
    fit_thresholds,
    multilabel_ece,
    multilabel_report,
)


def simulated_scores(n: int, temps: list[float], biases: list[float], seed: int = 0):
    """Cosine-like scores whose true P(positive) is sigmoid((s - b_c) / T_c): a per-class truth to recover."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(n, len(temps), generator=g) * 0.6
    t, b = torch.tensor(temps), torch.tensor(biases)
    truth = torch.sigmoid((scores - b) / t)
    targets = (torch.rand(n, len(temps), generator=g) < truth).float()
    return scores, targets, truth


def test_per_class_temperature_recovers_each_class_and_beats_a_shared_pair():
    temps, biases = [0.02, 0.05, 0.1], [0.2, 0.3, 0.4]
    scores, targets, _ = simulated_scores(6000, temps, biases)
    cal = PerClassTemperature(PerClassTemperatureSettings(shrinkage=0.0)).fit(scores, targets)
    assert cal.temperature.tolist() == pytest.approx(temps, rel=0.2)
    assert cal.bias.tolist() == pytest.approx(biases, abs=0.02)
    test_scores, test_targets, truth = simulated_scores(6000, temps, biases, seed=1)
    shared = PerClassTemperature(PerClassTemperatureSettings(mode="shared")).fit(scores, targets)
    assert torch.allclose(shared.temperature, shared.temperature[0].expand(3))
    per_class_err = (cal(test_scores) - truth).abs().mean()
    shared_err = (shared(test_scores) - truth).abs().mean()
    assert per_class_err < 0.02 < shared_err
    assert multilabel_ece(cal(test_scores), test_targets) < multilabel_ece(shared(test_scores), test_targets)


def test_shrinkage_pulls_a_class_with_few_examples_towards_the_shared_pair():
    scores, targets, _ = simulated_scores(300, [0.02, 0.08], [0.25, 0.35], seed=2)
    free = PerClassTemperature(PerClassTemperatureSettings(shrinkage=0.0)).fit(scores, targets)
    shrunk = PerClassTemperature(PerClassTemperatureSettings(shrinkage=1e4)).fit(scores, targets)
    spread = lambda c: float((c.log_t[0] - c.log_t[1]).abs())  # noqa: E731
    assert spread(shrunk) < 0.1 * spread(free)


def test_calibrator_state_round_trips_and_rejects_wrong_class_count():
    scores, targets, _ = simulated_scores(500, [0.05, 0.05], [0.3, 0.3])
    cal = PerClassTemperature().fit(scores, targets)
    other = PerClassTemperature(classes=2)
    other.load_state_dict(cal.state_dict())
    assert torch.equal(other(scores), cal(scores))
    with pytest.raises(ValueError, match="fitted for 2 classes"):
        cal(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="0/1"):
        PerClassTemperature().fit(scores, targets * 2)


def test_thresholds_maximise_validation_f1_per_class():
    # class 0 separates at 0.3, class 1 at 0.7; class 2 has no positive and keeps the default
    probs = torch.tensor([[0.1, 0.5, 0.2], [0.25, 0.6, 0.1], [0.35, 0.75, 0.3], [0.4, 0.9, 0.2]])
    targets = torch.tensor([[0, 0, 0], [0, 0, 0], [1, 1, 0], [1, 1, 0]]).float()
    th = fit_thresholds(probs, targets, default=0.5)
    assert 0.25 < th[0] <= 0.35 and 0.6 < th[1] <= 0.75 and th[2] == 0.5
    report = multilabel_report(probs, targets, th)
    assert report["micro_f1"] == 1.0 and report["macro_f1"] == 1.0
    assert multilabel_report(probs, targets, 0.5)["micro_f1"] < 1.0


def test_report_matches_sklearn_and_ece_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    probs = rng.random((200, 4))
    targets = (rng.random((200, 4)) < probs).astype(float)
    targets[:, 3] = 0  # a class with no positive is left out of mAP and macro F1, not an error
    report = multilabel_report(torch.tensor(probs), torch.tensor(targets))
    expected = average_precision_score(targets[:, :3], probs[:, :3], average="macro")
    assert report["mAP"] == pytest.approx(expected)
    p, y = probs.ravel(), targets.ravel()
    bins = np.minimum((p * 10).astype(int), 9)
    direct = sum(abs(p[bins == b].mean() - y[bins == b].mean()) * (bins == b).mean() for b in range(10)
                 if (bins == b).any())
    assert multilabel_ece(probs, targets, bins=10) == pytest.approx(direct)
    perfect = multilabel_ece(np.array([[1.0, 0.0]] * 5), np.array([[1.0, 0.0]] * 5))
    assert perfect == 0.0
    with pytest.raises(ValueError, match="same shape|one shape"):
        multilabel_report(torch.zeros(3, 2), torch.zeros(3, 3))


def test_multilabel_calibrator_is_registered_and_builds_from_its_spec():
    from unibind.plugins import get_registry

    spec = get_registry().get("calibrator", "per-class-temperature")
    calibrator = spec.build({"mode": "shared"})
    assert isinstance(calibrator, PerClassTemperature) and calibrator.settings.mode == "shared"
