"""A space records the files it was trained on; calibrating or measuring on them is refused or said.

Synthetic ``.vec`` files and the hashing text encoder (no model; simulated).
"""

from __future__ import annotations

import shutil

import numpy as np
import training_fakes as fakes
from click.testing import CliRunner

from unibind.features.keys import file_key
from unibind.seen_files import TRAINED_ON, save_trained_on, seen_by_space, trained_on
from unibind_cli.main import cli

LABELS = ("bird", "cat", "dog", "fish")


def test_recorded_keys_find_the_same_bytes_under_any_name(tmp_path):
    a = fakes.write_vec(tmp_path / "a.vec", [1.0, 2.0])
    b = fakes.write_vec(tmp_path / "b.vec", [3.0, 4.0])
    save_trained_on(tmp_path / "space", {"vec": [file_key(a)]})
    copy = shutil.copy(a, tmp_path / "renamed.vec")
    assert seen_by_space(tmp_path / "space", "vec", [a, b, copy]) == [str(a), str(copy)]
    assert trained_on(tmp_path / "space", "image") == set()              # a modality it did not train
    assert seen_by_space(tmp_path / "other", "vec", [a]) is None           # a space that records nothing
    assert seen_by_space(None, "vec", [a]) is None


def held_out(root, source):
    """Copies of ``source``'s class folders with noise added to every value: new files, same classes."""
    rng = np.random.default_rng(7)
    for path in sorted(source.rglob("*.vec")):
        values = np.array(path.read_text().split(), dtype=float)
        values += 0.8 * rng.standard_normal(values.shape)
        fakes.write_vec(root / path.parent.name / path.name, values)
    return root


def test_calibrate_refuses_training_files_and_leaves_them_out_when_asked(tmp_path, fake_registry):
    fakes.write_class_folders(tmp_path / "data", LABELS, 10)
    space = tmp_path / "space"
    fakes.train_tiny(tmp_path / "data", space, fake_registry)
    assert len(trained_on(space, "vec")) == 40                   # trained and validated with: all 40
    runner = CliRunner()
    refused = runner.invoke(cli, ["calibrate", "fit", str(tmp_path / "data"), "--space", str(space),
                                  "--modality", "vec"])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert f"40 of 40 vec files trained this space ({space / TRAINED_ON})" in refused.output
    assert not (space / "calibrators").exists()                    # nothing written
    report = runner.invoke(cli, ["calibrate", "report", str(tmp_path / "data"), "--space", str(space),
                                 "--modality", "vec", "--out", str(tmp_path / "rep")])
    assert report.exit_code == 1 and "40 of 40 vec files trained this space" in report.output
    mixed = held_out(tmp_path / "mixed", tmp_path / "data")
    for label in LABELS:                                           # two training files per class among new ones
        for i in (0, 1):
            shutil.copy(tmp_path / "data" / label / f"{i}.vec", mixed / label / f"train-{i}.vec")
    left = runner.invoke(cli, ["calibrate", "fit", str(mixed), "--space", str(space), "--modality", "vec",
                               "--exclude-trained"])
    assert "left out 8 of 48 files the space was trained on" in left.output
    assert left.exit_code == 0 and "temperature fitted on 40 vec files" in left.output, left.output
    held = runner.invoke(cli, ["calibrate", "fit", str(held_out(tmp_path / "held", tmp_path / "data")),
                               "--space", str(space), "--modality", "vec"])
    assert held.exit_code == 0 and "left out" not in held.output and "fitted on 40 vec files" in held.output


def test_eval_report_says_when_a_set_holds_training_files(tmp_path, fake_registry, capsys):
    from unibind.evaluation.data import folder_sets
    from unibind_cli.evaluate import _say_trained_files

    fakes.write_class_folders(tmp_path / "data", LABELS, 3)
    save_trained_on(tmp_path / "space", {"vec": [file_key(p) for p in sorted((tmp_path / "data").rglob("*.vec"))[:5]]})
    sets = folder_sets(tmp_path / "data")
    _say_trained_files(tmp_path / "space", sets)
    assert f"warning: 5 of 12 vec files of {sets[0].name} trained" in capsys.readouterr().err
    _say_trained_files(None, sets)
    assert capsys.readouterr().err == ""
