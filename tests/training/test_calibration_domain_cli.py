"""classify marks (p*, one stderr line, ``calibration_domain`` in JSON) inputs unlike the files the space's
calibrator was fitted on.

Synthetic ``.vec`` files and the hashing text encoder (no model; simulated).
"""

from __future__ import annotations

import json

import numpy as np
import training_fakes as fakes
from click.testing import CliRunner
from test_seen_files import LABELS, held_out

from unibind_cli.main import cli


def _orthogonal_files(root, source, n=40):
    """Files in the directions none of ``source``'s classes has (the orthogonal complement of their means),
    ten times as long as theirs: another domain, filed under the same class folders."""
    folders = sorted(p for p in source.iterdir() if p.is_dir())
    means = np.stack([np.mean([np.array(f.read_text().split(), dtype=float) for f in d.glob("*.vec")], axis=0)
                      for d in folders])
    complement = np.linalg.svd(means)[2][len(folders):]          # rows orthogonal to every class mean
    rng = np.random.default_rng(3)
    for i in range(n):
        values = 10 * rng.standard_normal(len(complement)) @ complement
        fakes.write_vec(root / folders[i % len(folders)].name / f"{i}.vec", values)
    return root


def test_classify_marks_inputs_unlike_the_calibration_files(tmp_path, fake_registry):
    fakes.write_class_folders(tmp_path / "data", LABELS, 10)
    space = tmp_path / "space"
    fakes.train_tiny(tmp_path / "data", space, fake_registry)
    held = held_out(tmp_path / "held", tmp_path / "data")
    runner = CliRunner()
    fitted = runner.invoke(cli, ["calibrate", "fit", str(held), "--space", str(space), "--modality", "vec"])
    assert fitted.exit_code == 0, fitted.output
    assert "domain: the 40 files' embeddings (k = 5)" in fitted.output
    alike = held_out(tmp_path / "alike", tmp_path / "data")              # new files from the same classes
    far = _orthogonal_files(tmp_path / "far", tmp_path / "data")

    def flags(folder):
        result = runner.invoke(cli, ["classify", str(folder), "--space", str(space), "--no-fallback", "--json"])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        tests = [row["calibration_set"] for row in rows]
        assert all(t == tests[0] for t in tests)         # one test of the set, on each of its predictions
        return [row["calibration_domain"] for row in rows], tests[0]

    inside, alike_set = flags(alike)
    assert all(flag is not None for flag in inside) and sum(inside) >= 30
    assert alike_set.keys() == {"files", "reference", "auroc", "p_value", "unlike"} and not alike_set["unlike"]
    outside, far_set = flags(far)
    assert outside == [False] * 40, far_set
    assert far_set["unlike"] and far_set["files"] == 40, far_set
    table = runner.invoke(cli, ["classify", str(far / "cat"), "--space", str(space), "--no-fallback"])
    assert table.exit_code == 0
    assert table.stdout.count("*") == 10
    assert "calibration: 10 of 10 vec file(s) are unlike the 40 files of held-out files the vec calibrator " in \
        table.stderr
    whole = runner.invoke(cli, ["classify", str(far), "--space", str(space), "--no-fallback"])
    assert whole.exit_code == 0 and whole.stdout.count("*") == 40
    assert "calibration: these 40 vec files, taken together, are unlike the 40 files of held-out files" in \
        whole.stderr and "AUROC 1.00" in whole.stderr
