"""A temperature fit with no sensible optimum is refused with one reason, never saved degenerate.

Logits here are made up to provoke each case (all right: T -> 0; true class no better than average:
T -> infinity; nearly flat NLL on few items: a finite T far outside [0.01, 100], as the demo's audio
calibration once fitted T = 1.4e10 on 9 items). The CLI cases use text files scored by the hashing
test encoder (simulated sentences), so they run without a model.
"""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from unibind.calibration.base import CalibrationFitError
from unibind.calibration.fit_defaults import _oracle
from unibind.calibration.report import LabelledFiles, format_report, measure
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.calibration.vector import VectorScaler
from unibind.space import Space
from unibind_cli.main import cli

LABELS = ["dog", "cat", "truck"]


def _all_right():
    logits = torch.tensor([[30.0, 10.0, 5.0], [2.0, 25.0, 1.0], [0.0, 3.0, 20.0]] * 3)
    return logits, torch.tensor([0, 1, 2] * 3)


def test_all_right_items_ask_for_certainty_and_are_refused():
    with pytest.raises(CalibrationFitError, match="all 9 fitting items are predicted right.*T -> 0"):
        TemperatureScaler().fit(*_all_right())
    with pytest.raises(CalibrationFitError, match="vector scaling starts from temperature scaling, and no temp"):
        VectorScaler().fit(*_all_right())


def test_a_true_class_no_better_than_average_asks_for_uniform_and_is_refused():
    logits, labels = _all_right()
    wrong = (labels + 1) % 3            # every label is a class that scores low
    with pytest.raises(CalibrationFitError, match="no higher than the average class.*T -> infinity"):
        TemperatureScaler().fit(logits, wrong)


def test_a_finite_optimum_outside_the_bounds_is_refused_and_the_bounds_are_settings():
    # 5 right by 10, 4 wrong by 12: the mean margin is barely positive, so the best T is about 269
    logits = torch.tensor([[10.0, 0.0]] * 5 + [[0.0, 12.0]] * 4)
    labels = torch.zeros(9, dtype=torch.long)
    with pytest.raises(CalibrationFitError, match=r"best T on these 9 items \(4 predicted wrong\) is 269.*"
                                                  r"\[0\.01, 100\] \(nearly uniform"):
        TemperatureScaler().fit(logits, labels)
    wider = TemperatureScaler(TemperatureSettings(max_temperature=1000)).fit(logits, labels)
    assert wider.temperature == pytest.approx(269, rel=0.01)
    with pytest.raises(ValueError):
        TemperatureSettings(min_temperature=5, max_temperature=1)


def test_a_refused_fit_leaves_the_scaler_as_it_was():
    scaler = TemperatureScaler(TemperatureSettings(temperature=2.0))
    with pytest.raises(CalibrationFitError):
        scaler.fit(*_all_right())
    assert scaler.temperature == pytest.approx(2.0)


def _plain_texts(root, per_class=6):
    """Simulated sentences naming only their own class: the hashing encoder gets every one right."""
    paths, targets = [], []
    for c, label in enumerate(LABELS):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            path = folder / f"{label}-{i}.txt"
            path.write_text(f"a {label} {label} {label}")
            paths.append(path)
            targets.append(c)
    return paths, targets


def test_calibrate_fit_ends_in_one_error_line_and_writes_nothing(registry, tmp_path):
    _plain_texts(tmp_path / "easy")
    result = CliRunner().invoke(cli, ["calibrate", "fit", str(tmp_path / "easy"), "--space", str(tmp_path / "s"),
                                      "--new", "--modality", "text", "--labels", ",".join(LABELS)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "no temperature fitted: all 18 fitting items are predicted right" in errors[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "s" / "calibrators").exists()


def test_report_says_which_calibrator_was_not_fitted_and_measures_the_rest(registry, tmp_path):
    paths, targets = _plain_texts(tmp_path / "easy")
    data = LabelledFiles("easy", "text", paths, targets, LABELS, note="simulated sentences, all right")
    result = measure(Space(registry=registry), data, tmp_path / "out", calibrators=("temperature", "isotonic"))
    assert set(result["refused"]) == {"temperature"} and "predicted right" in result["refused"]["temperature"]
    assert set(result["calibrators"]) == {"isotonic"}
    assert "temperature: not fitted (no temperature fitted: all 9 fitting items" in format_report([result])
    # no fallback figures on uncalibrated confidence: not what classify runs
    assert result["fallback"] == {"threshold": 0.6, "not_measured": result["refused"]["temperature"]}
    assert "fallback at threshold 0.6: not measured (it is measured on a temperature fitted on the calibration " \
        "part, and there is none): no temperature fitted" in format_report([result])


def test_a_default_calibrators_other_set_without_a_temperature_records_why():
    logits, labels = _all_right()
    assert _oracle(logits, labels)["oracle_temperature"] is None
    assert "predicted right" in _oracle(logits, labels)["oracle_refused"]
    fine = _oracle(logits, torch.tensor([0, 1, 2] * 2 + [1, 0, 2]))
    assert fine["oracle_temperature"] > 0 and "oracle_refused" not in fine


def test_the_demo_skips_calibrating_a_modality_with_a_stated_reason(tmp_path):
    from unibind.demo import DemoResult, calibrate_demo

    result = DemoResult()
    gen = torch.Generator().manual_seed(0)
    image = torch.eye(3).repeat(4, 1) + 0.8 * torch.randn(12, 3, generator=gen)     # near its class, noisy
    result.embeddings["image/after"] = (image, [LABELS[i % 3] for i in range(12)])      # some right, some wrong
    result.embeddings["audio/after"] = (torch.eye(3).repeat(4, 1), LABELS * 4)          # all right
    figures = calibrate_demo(result, lambda v: v, 10.0, LABELS, tmp_path / "space", tmp_path)
    assert set(result.calibration) == {"image"} and len(figures) == 1
    assert "predicted right" in result.uncalibrated["audio"]
    assert not (tmp_path / "space" / "calibrators" / "audio.safetensors").exists()


def test_partner_files_that_admit_no_temperature_leave_the_cross_modal_check_without_them(registry, tmp_path):
    paths, targets = [], []
    for c, label in enumerate(LABELS):      # main files: some name another class twice, so some are wrong
        for i in range(6):
            other = LABELS[(c + 1) % 3]
            path = tmp_path / "main" / f"{label}-{i}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"a {label}" + (f" near a {other} {other}" if i % 2 == 0 else ""))
            paths.append(path)
            targets.append(c)
    partner_paths, _ = _plain_texts(tmp_path / "partners")     # all right: no temperature for them
    partners = {str(p): {"text": q} for p, q in zip(paths, partner_paths)}
    data = LabelledFiles("paired", "text", paths, targets, LABELS, note="simulated pairs", partners=partners)
    result = measure(Space(registry=registry), data, tmp_path / "out", calibrators=("temperature",))
    assert "temperature" in result["calibrators"] and not result.get("refused")
    assert sum(result["fallback"]["decisions"].values()) == result["held_out"]
