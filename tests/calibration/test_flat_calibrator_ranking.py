"""A calibrator that flattens the probabilities must not change which class ``classify`` names.

Cause of the demo's k = 4 mismatch (sheep_lamb.ogg "insect" in the demo, "cattle" from
``classify --space``): the space held an audio temperature of 8.4e7 (fitted before degenerate
temperatures were refused). Its probabilities were 1/3 for every class in float32, and
``topk`` picked among those ties in no defined order, while the demo (and ``eval report``)
took the top cosine. The hashing text encoder stands in for a real one (no model to load).
"""

from __future__ import annotations

import pytest
import torch

from unibind.calibration.store import CalibratorRecord, FittedCalibrator, ranked_classes
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.space import Space

LABELS = ["dog", "cat", "truck", "boat", "tree"]


def test_equal_probabilities_rank_by_score_and_unequal_ones_by_probability():
    probs = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.1, 0.6, 0.2, 0.1], [0.5, 0.5, 0.0, 0.0]])
    scores = torch.tensor([[0.1, 0.4, 0.3, 0.2], [0.9, 0.0, 0.1, 0.2], [0.2, 0.2, 0.9, 0.1]])
    assert ranked_classes(probs, scores).tolist() == [[1, 2, 3, 0], [1, 2, 0, 3], [0, 1, 2, 3]]


def test_a_flattening_calibrator_keeps_the_top_cosine_as_the_label(registry, tmp_path):
    space = Space(registry=registry, settings={"hashing": {"dim": 256}})
    files = []
    for n, text in enumerate(["a tree by a boat", "truck truck", "a boat on the sea", "a cat and a tree", "dog"]):
        files.append(tmp_path / f"{n}.txt")
        files[-1].write_text(text)
    flat = TemperatureScaler(TemperatureSettings(temperature=8.4e7, max_temperature=1e9))
    fitted = FittedCalibrator(flat, CalibratorRecord(name="temperature", modality="text"))
    plain, _ = space.classify(files, LABELS, top_k=len(LABELS))
    calibrated, _ = space.classify(files, LABELS, top_k=len(LABELS), calibrator={"text": fitted})
    assert all(p.calibrated for p in calibrated)
    # float32 ties: the flattened probabilities cannot tell the classes apart (the failure's precondition)
    assert any(len({round(c.probability, 9) for c in p.top}) < len(LABELS) for p in calibrated)
    for before, after in zip(plain, calibrated):
        assert [c.label for c in after.top] == [c.label for c in before.top]
        assert after.label == before.label
        sims = [c.similarity for c in after.top]
        assert sims == sorted(sims, reverse=True)
        assert after.top[0].probability == pytest.approx(1 / len(LABELS), abs=1e-6)


def test_the_fallback_reviews_the_label_classify_named(registry, tmp_path):
    """With the fallback on, its original label is the printed one, not ``probs.argmax`` over the ties."""
    from unibind.validation.base import Fallback, FallbackSettings

    space = Space(registry=registry, settings={"hashing": {"dim": 256}})
    files = []
    for n, text in enumerate(["a tree by a boat", "truck truck", "a boat on the sea", "a cat and a tree"]):
        files.append(tmp_path / f"{n}.txt")
        files[-1].write_text(text)
    flat = TemperatureScaler(TemperatureSettings(temperature=8.4e7, max_temperature=1e9))
    fitted = FittedCalibrator(flat, CalibratorRecord(name="temperature", modality="text"))
    plain, _ = space.classify(files, LABELS)
    reviewed, _ = space.classify(files, LABELS, calibrator={"text": fitted}, explain=True,
                                 fallback=Fallback(FallbackSettings(validators=["yes-no"]), registry=registry))
    for before, after in zip(plain, reviewed):
        assert after.fallback.ran
        assert after.fallback.original_label == before.label == after.top[0].label
        # the explanation lists the classes in the printed order too, not topk's order among the ties
        assert [c.label for c in after.explanation.top] == [c.label for c in before.top]
