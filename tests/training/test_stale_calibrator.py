"""A space's calibrator fitted before the space was trained again is not applied, and classify says why.

Synthetic ``.vec`` files and the hashing text encoder (no model; simulated).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import training_fakes as fakes
from click.testing import CliRunner
from test_seen_files import LABELS, held_out

from unibind.calibration.fitted_for import KEY, scores_fingerprint, stale_calibrators
from unibind.spacedir import read_record, write_record
from unibind_cli.main import cli


def _classify(space, path, *extra):
    result = CliRunner().invoke(cli, ["classify", str(path), "--space", str(space), "--no-fallback", *extra])
    assert result.exit_code == 0, result.output
    return result


def test_training_again_into_the_folder_makes_the_calibrator_stale(tmp_path, fake_registry):
    fakes.write_class_folders(tmp_path / "data", LABELS, 10)
    space = tmp_path / "space"
    fakes.train_tiny(tmp_path / "data", space, fake_registry)
    held = held_out(tmp_path / "held", tmp_path / "data")
    fitted = CliRunner().invoke(cli, ["calibrate", "fit", str(held), "--space", str(space), "--modality", "vec"])
    assert fitted.exit_code == 0, fitted.output
    sidecar = json.loads((space / "calibrators" / "vec.json").read_text())
    assert sidecar["provenance"][KEY] == scores_fingerprint(space, "vec")
    one = held / "cat" / "0.vec"
    first = _classify(space, one, "--json")
    assert json.loads(first.stdout.splitlines()[0])["calibrated"] is True
    (space / "checkpoint.safetensors").unlink()              # another run: new seed, same folder
    fakes.train_tiny(tmp_path / "data", space, fake_registry, seed=1)
    assert (space / "calibrators" / "vec.safetensors").is_file()      # train left it (the user's file) ...
    again = _classify(space, one, "--json")
    assert json.loads(again.stdout.splitlines()[0])["calibrated"] is False           # ... but it is not applied
    said = _classify(space, one).stderr
    assert "uncalibrated for vec" in said and "the space's vec calibrator does not apply: it was fitted before" in said


def test_a_calibrator_without_a_fingerprint_is_judged_by_space_json(tmp_path, fake_registry):
    fakes.write_class_folders(tmp_path / "data", LABELS, 6)
    space = tmp_path / "space"
    fakes.train_tiny(tmp_path / "data", space, fake_registry, epochs=1)
    old = SimpleNamespace(record=SimpleNamespace(provenance={}))          # fitted before fingerprints existed
    assert "space.json does not list it" in stale_calibrators(space, {"vec": old})["vec"]
    record = read_record(space)
    record.calibrators = {"vec": {"file": "calibrators/vec.safetensors", "name": "temperature"}}
    write_record(space, record)
    assert stale_calibrators(space, {"vec": old}) == {}
    assert stale_calibrators(tmp_path / "no-space", {"vec": old}) == {}     # the default space's folder


def test_a_saved_temperature_outside_the_accepted_bounds_is_not_applied(tmp_path):
    """Files saved before degenerate fits were refused hold e.g. T = 8.4e7: every probability 1/C."""
    from unibind.calibration.temperature import TemperatureSettings

    def saved(temperature, **settings):
        calibrator = SimpleNamespace(temperature=temperature, settings=TemperatureSettings(**settings))
        return SimpleNamespace(calibrator=calibrator, record=SimpleNamespace(provenance={}))

    why = stale_calibrators(tmp_path / "default-space-folder", {"audio": saved(8.4e7), "image": saved(4.77)})
    assert set(why) == {"audio"} and "temperature 8.4e+07 is outside [0.01, 100]" in why["audio"]
    assert stale_calibrators(None, {"audio": saved(8.4e7, max_temperature=1e9)}) == {}   # its own bounds allow it
