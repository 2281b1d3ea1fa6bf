"""``calibrate fit/report`` without --modality: the one modality of DATA's files, or one usage error.

Synthetic ``.vec`` files and the hashing text encoder (no model; simulated).
"""

from __future__ import annotations

import training_fakes as fakes
from click.testing import CliRunner
from test_seen_files import LABELS, held_out

from unibind_cli.main import cli


def test_the_modality_is_read_off_the_files_and_several_are_an_error(tmp_path, fake_registry):
    fakes.write_class_folders(tmp_path / "data", LABELS, 10)
    space = tmp_path / "space"
    fakes.train_tiny(tmp_path / "data", space, fake_registry)
    held = held_out(tmp_path / "held", tmp_path / "data")
    fitted = CliRunner().invoke(cli, ["calibrate", "fit", str(held), "--space", str(space)])
    assert fitted.exit_code == 0, fitted.output
    assert f"modality: vec (every usable file in {held}" in fitted.stderr
    assert (space / "calibrators" / "vec.safetensors").is_file()
    (held / "cat" / "note.txt").write_text("a cat sat on the mat")
    mixed = CliRunner().invoke(cli, ["calibrate", "report", str(held), "--space", str(space),
                                     "--out", str(tmp_path / "rep")])
    assert mixed.exit_code == 2 and "Traceback" not in mixed.output
    assert "holds files of several modalities (40 vec, 1 text): give --modality" in mixed.output
    assert not (tmp_path / "rep").exists()


def test_calibrate_fit_builds_classes_the_space_never_saw_as_classify_does(tmp_path, fake_registry):
    fakes.write_class_folders(tmp_path / "data", LABELS[:3], 10)
    space = tmp_path / "space"
    fakes.train_tiny(tmp_path / "data", space, fake_registry)
    fakes.write_class_folders(tmp_path / "more", LABELS, 10)          # the same three classes, and "fish", never trained
    held = held_out(tmp_path / "held", tmp_path / "more")
    before = sorted(p.name for p in space.rglob("*") if "calibrators" not in p.parts)
    fitted = CliRunner().invoke(cli, ["calibrate", "fit", str(held), "--space", str(space), "--modality", "vec"])
    assert fitted.exit_code == 0, fitted.output
    assert "classes built now (not among the space's saved centres): fish" in fitted.stderr
    assert "fitted on 40 vec files (4 classes)" in fitted.stdout
    assert sorted(p.name for p in space.rglob("*") if "calibrators" not in p.parts) == before   # no centres saved
