"""``unibind classify`` with a calibrator whose fitted fallback adds nothing runs no validator and says so once.

The text modality runs on the hashing test encoder (no model); a validator registered through a test plugin
counts its calls, beside the built-in ones (the fallback runs every registered validator). The calibrator is a
fixed, very high temperature (every prediction falls below the threshold) with a fallback entry written here:
"adds nothing" (no cut, no revision) or, as the control, a cut that verifies.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from unibind.calibration import defaults
from unibind.calibration.store import CalibratorRecord, FittedCalibrator, write_calibrator
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.plugins import reset_plugin_manager
from unibind.results import ValidatorRecord
from unibind.specs import ValidatorSpec
from unibind_cli.main import cli

LABELS = "dog,cat,truck"
ADDS_NOTHING = "calibrator's fallback verifies nothing and keeps no revision"


class CountingValidator:
    """Agrees with every prediction, with support 0.9, and counts the sources it was asked about."""

    name = "counting"
    calls: list[str] = []

    def __init__(self, registry=None):
        pass

    def validate(self, case, texts, space):
        CountingValidator.calls.append(case.source)
        return ValidatorRecord(name=self.name, verdict="agree", support=0.9, label=case.labels[case.predicted])


@pytest.fixture
def counting(make_plugin, manager_with, monkeypatch, tmp_path):
    """Built-ins, the hashing text encoder and the counting validator, as the process's plugin manager."""
    from unibind.knowledge.testing import hashing_encoder_spec

    plugin = make_plugin("fakes", unibind_encoders=lambda register: register(hashing_encoder_spec()),
                         unibind_validators=lambda register: register(ValidatorSpec(
                             name="counting", factory=f"{__name__}:CountingValidator",
                             summary="counts its calls (test)")))
    manager = manager_with({"fakes": plugin})
    reset_plugin_manager(manager)
    monkeypatch.setattr(defaults, "DEFAULTS_DIR", tmp_path / "no-shipped")   # only the calibrator given here
    CountingValidator.calls = []
    assert "counting" in {s.name for s in manager.registry.by_kind("validator")}
    return CountingValidator.calls


def _calibrator(path, cut, revise):
    """A flattening temperature (every prediction below 0.6) with a fallback entry fitted at 0.6."""
    fitted_stats = {"cut": cut, "revise": revise, "agreed": 12, "agreed_right": 5, "revised": 0, "revised_right": 0,
                    "target": 0.8, "unchecked": 3, "unchecked_accuracy": 0.8, "verified": 0 if cut is None else 12,
                    "verified_right": 0 if cut is None else 5, "bound": 0.19, "revise_bound": 0.0}
    entry = {"threshold": 0.6, "cut": cut, "revise": revise, "fitted": fitted_stats}
    record = CalibratorRecord(name="temperature", modality="text", provenance={"fallback": {**entry, "grid": [entry]}})
    hot = TemperatureScaler(TemperatureSettings(temperature=1000.0, max_temperature=2000.0))
    return write_calibrator(path, FittedCalibrator(hot, record))


def _files(root):
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for i, text in enumerate(["a dog", "a small cat", "a red truck", "a dog near a cat"]):
        path = root / f"q{i}.txt"
        path.write_text(text)
        files.append(str(path))
    return files


def test_a_fallback_that_adds_nothing_runs_no_validator_and_says_so_once(counting, tmp_path):
    calibrator = _calibrator(tmp_path / "text.safetensors", None, False)
    files = _files(tmp_path / "q")
    runner = CliRunner()
    table = runner.invoke(cli, ["classify", *files, "--labels", LABELS, "--calibrator", str(calibrator)])
    assert table.exit_code == 0, table.output
    assert counting == []
    assert table.stderr.count(ADDS_NOTHING) == 1
    assert "fallback: at threshold 0.6 the text calibrator's fallback verifies nothing" in table.stderr
    assert "validators skipped; predictions below 0.6 are rejected" in table.stderr
    out = runner.invoke(cli, ["classify", *files, "--labels", LABELS, "--calibrator", str(calibrator), "--json"])
    assert out.exit_code == 0, out.output
    predictions = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(predictions) == 4 and counting == []
    for p in predictions:    # below the threshold, rejected, with no validator's record
        f = p["fallback"]
        assert f["original_confidence"] < 0.6 and not f["ran"] and f["decision"] == "rejected" and f["validators"] == []
    assert out.stderr.count(ADDS_NOTHING) == 1


@pytest.mark.parametrize("cut, revise", [(0.3, False), (None, True)])
def test_a_fallback_that_verifies_or_revises_runs_the_validators_on_every_file_below_the_threshold(
        counting, tmp_path, cut, revise):
    calibrator = _calibrator(tmp_path / "text.safetensors", cut, revise)
    files = _files(tmp_path / "q")
    out = CliRunner().invoke(cli, ["classify", *files, "--labels", LABELS, "--calibrator", str(calibrator), "--json"])
    assert out.exit_code == 0, out.output
    assert sorted(counting) == sorted(files)      # once per file: all are below the threshold
    assert ADDS_NOTHING not in out.stderr
    predictions = [json.loads(line) for line in out.stdout.splitlines()]
    assert all(p["fallback"]["ran"] and "counting" in {v["name"] for v in p["fallback"]["validators"]}
               for p in predictions)
    if cut is not None:     # the built-in validators may disagree; where all agreed, the low cut verifies
        assert {p["fallback"]["decision"] for p in predictions} <= {"verified", "revised", "rejected"}
