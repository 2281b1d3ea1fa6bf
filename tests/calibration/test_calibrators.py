"""Temperature, vector and isotonic calibrators: fitting, ECE reduction, saving in a space directory."""

from __future__ import annotations

import json

import pytest
import torch

from unibind.calibration import metrics
from unibind.calibration.isotonic import IsotonicCalibrator
from unibind.calibration.store import (
    CalibratorRecord,
    FittedCalibrator,
    apply_calibration,
    calibrator_entries,
    load_calibrator,
    load_calibrators,
    save_calibrator,
)
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.calibration.vector import VectorScaler
from unibind.errors import InputError
from unibind.plugins import get_registry


def _overconfident(n=3000, c=6, seed=0, true_t=3.0, bias=None):
    """Logits whose labels are drawn from softmax(logits / true_t (+ bias)): over-confident by true_t."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=gen) * 5
    shifted = logits / true_t + (bias if bias is not None else 0)
    labels = torch.multinomial(torch.softmax(shifted, -1), 1, generator=gen).squeeze(1)
    return logits, labels


@pytest.mark.parametrize("start", [0.01, 1.0, 50.0])
def test_temperature_converges_to_the_same_optimum_from_any_start(start):
    logits, labels = _overconfident()
    t = TemperatureScaler(TemperatureSettings(temperature=start)).fit(logits, labels).temperature
    assert t == pytest.approx(3.0, rel=0.08)
    reference = TemperatureScaler().fit(logits, labels).temperature
    assert t == pytest.approx(reference, rel=1e-3)


@pytest.mark.parametrize("make", [TemperatureScaler, VectorScaler, IsotonicCalibrator])
def test_every_calibrator_lowers_held_out_ece_of_overconfident_scores(make):
    logits, labels = _overconfident(n=6000)
    fit, held = slice(0, 3000), slice(3000, None)
    calibrator = make().fit(logits[fit], labels[fit])
    before = metrics.ece(torch.softmax(logits[held], -1), labels[held])
    after = metrics.ece(calibrator(logits[held]), labels[held])
    assert before > 0.15 and after < 0.05, (before, after)
    assert torch.allclose(calibrator(logits[held]).sum(-1), torch.ones(3000), atol=1e-5)


def test_vector_scaling_fixes_a_per_class_bias_that_temperature_cannot():
    bias = torch.tensor([1.5, 0.0, -1.5, 0.0, 0.5, -0.5])
    logits, labels = _overconfident(n=8000, bias=bias, seed=2)
    fit, held = slice(0, 4000), slice(4000, None)
    temp = TemperatureScaler().fit(logits[fit], labels[fit])
    vec = VectorScaler().fit(logits[fit], labels[fit])
    assert metrics.nll(vec(logits[held]), labels[held]) < metrics.nll(temp(logits[held]), labels[held]) - 0.05
    assert (vec.bias[0] - vec.bias[2]).item() == pytest.approx(3.0, abs=0.5)


def test_class_specific_calibrators_refuse_other_class_counts():
    logits, labels = _overconfident(n=200)
    for calibrator in (VectorScaler().fit(logits, labels), IsotonicCalibrator().fit(logits, labels)):
        with pytest.raises(ValueError, match="fitted on 6 classes"):
            calibrator(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="at least two"):
        TemperatureScaler().fit(logits[:1], labels[:1])


@pytest.mark.parametrize("name", ["temperature", "vector", "isotonic"])
def test_saved_calibrators_come_back_identical_through_the_registry(tmp_path, name):
    registry = get_registry()
    logits, labels = _overconfident(n=500)
    calibrator = registry.get("calibrator", name).build().fit(logits, labels)
    record = CalibratorRecord(name=name, modality="image", labels=[f"c{i}" for i in range(6)],
                              class_specific=calibrator.class_specific, fitted_on=500,
                              metrics={"after": {"ece": 0.01}})
    path = save_calibrator(tmp_path, FittedCalibrator(calibrator, record))
    assert path == tmp_path / "calibrators" / "image.safetensors"
    assert json.loads(path.with_suffix(".json").read_text())["name"] == name
    restored = load_calibrators(tmp_path, registry)["image"]
    assert torch.allclose(restored(logits, record.labels), calibrator(logits))
    assert calibrator_entries(tmp_path)["image"]["name"] == name
    assert sorted(p.name for p in (tmp_path / "calibrators").iterdir()) == ["image.json", "image.safetensors"]


def test_a_class_specific_calibrator_refuses_other_labels_and_bad_files_are_named(tmp_path):
    logits, labels = _overconfident(n=300, c=3)
    record = CalibratorRecord(name="vector", modality="audio", labels=["a", "b", "c"], class_specific=True)
    fitted = FittedCalibrator(VectorScaler().fit(logits, labels), record)
    with pytest.raises(InputError, match="fitted on labels"):
        apply_calibration({"audio": fitted}, "audio", logits, ["b", "a", "c"])
    assert apply_calibration({"audio": fitted}, "image", logits, ["a", "b", "c"]) is None
    bad = tmp_path / "calibrators" / "x.safetensors"
    bad.parent.mkdir()
    bad.write_bytes(b"not safetensors at all")
    with pytest.raises(InputError, match="x.safetensors"):
        load_calibrator(bad)
    with pytest.raises(InputError, match="no calibrator file"):
        load_calibrator(tmp_path / "missing.safetensors")
