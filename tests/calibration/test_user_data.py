"""``calibrate fit`` and ``calibrate report`` on the user's own labelled files: folders, JSONL and JSON manifests.

Text files scored by the hashing test encoder stand in for a real modality (simulated data: sentences
made up here), so the whole path runs in seconds without a model.
"""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner
from PIL import Image

from unibind.calibration.userdata import read_labelled
from unibind_cli.main import cli

LABELS = ["cat", "dog", "truck"]
WORDS = ["small", "red", "loud", "old", "wet", "shiny"]


def _write(root, per_class=10, folders=True):
    """Simulated sentences about their class (every third names another class twice); returns (path, label)s."""
    rng = random.Random(0)
    written = []
    for c, label in enumerate(LABELS):
        for i in range(per_class):
            other = LABELS[(c + 1) % 3]
            folder = root / label if folders else root
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{label}-{i}.txt"
            path.write_text(f"a {' '.join(rng.sample(WORDS, 2))} {label}"
                            + (f" near a {other} {other}" if i % 3 == 0 else ""))
            written.append((path, label))
    return written


def _figures(output):
    """The uncalibrated and temperature rows of the printed table: name -> [acc, ECE, ECE-m, MCE, ACE, Brier, NLL]."""
    rows = {}
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0] in ("uncalibrated", "temperature") and len(parts) == 9:
            rows[parts[0]] = [float(v) for v in parts[1:8]]
    return rows


def test_report_on_a_folder_per_class_prints_figures_before_and_after_and_writes_the_diagram(registry, tmp_path):
    _write(tmp_path / "mine")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["calibrate", "report", str(tmp_path / "mine"), "--modality", "text",
                                      "--out", str(out), "--held-out-fraction", "0.4", "--validator", "yes-no"])
    assert result.exit_code == 0, result.output
    # 4 of each class's 10 held out: 12 measured, 18 fit
    assert "30 files, calibration part 18, held-out 12" in result.output
    rows = _figures(result.output)
    assert rows["temperature"][6] < rows["uncalibrated"][6]          # held-out NLL drops
    assert "fitted temperature:" in result.output
    report = json.loads((out / "report.json").read_text())[0]
    assert report["held_out"] == 12 and report["classes"] == LABELS
    assert report["calibrators"]["temperature"]["temperature"] > 1
    assert Image.open(report["reliability_png"]).format == "PNG"
    assert [p.name for p in (tmp_path / "mine").rglob("*") if p.is_file()] and not list((tmp_path / "mine").glob(
        "*.safetensors"))   # the data folder is only read


@pytest.mark.parametrize("kind", ["jsonl", "json"])
def test_report_reads_a_manifest_and_reports_its_bad_lines(registry, tmp_path, kind):
    written = _write(tmp_path / "files", folders=False)
    entries = [{"path": p.name, "label": label} for p, label in written] + [{"path": "missing.txt", "label": "cat"}]
    manifest = tmp_path / "files" / f"set.{kind}"
    if kind == "json":
        manifest.write_text(json.dumps(entries))
    else:
        manifest.write_text("\n".join(json.dumps(e) for e in entries) + "\n{not json\n")
    result = CliRunner().invoke(cli, ["calibrate", "report", str(manifest), "--modality", "text",
                                      "--out", str(tmp_path / "out"), "--validator", "yes-no"])
    assert result.exit_code == 0, result.output
    assert "30 files, calibration part 15, held-out 15" in result.output
    assert "missing.txt: no such file" in result.stderr
    if kind == "jsonl":
        assert "bad manifest line" in result.stderr


def test_report_and_fit_refuse_unusable_data_with_one_error_line(registry, tmp_path):
    runner = CliRunner()
    _write(tmp_path / "mine", per_class=2)
    no_modality = runner.invoke(cli, ["calibrate", "report", str(tmp_path / "mine"), "--out", str(tmp_path / "o")])
    assert no_modality.exit_code == 0, no_modality.output      # the one modality of the files: said, then used
    assert f"modality: text (every usable file in {tmp_path / 'mine'}" in no_modality.stderr
    one_class = tmp_path / "one"
    (one_class / "cat").mkdir(parents=True)
    (one_class / "cat" / "a.txt").write_text("a cat")
    refused = runner.invoke(cli, ["calibrate", "report", str(one_class), "--modality", "text", "--out",
                                  str(tmp_path / "o")])
    assert refused.exit_code == 1 and "at least two classes" in refused.output
    assert "Traceback" not in refused.output and refused.output.count("Error") == 1
    bad_modality = runner.invoke(cli, ["calibrate", "fit", str(tmp_path / "mine"), "--space", str(tmp_path / "s"),
                                       "--new", "--modality", "smell"])
    assert bad_modality.exit_code == 2 and "--modality" in bad_modality.output
    assert not (tmp_path / "s").exists()


def test_fit_reads_a_manifest_and_prints_the_fitted_temperature(registry, tmp_path):
    written = _write(tmp_path / "files", folders=False)
    manifest = tmp_path / "held.jsonl"
    manifest.write_text("\n".join(json.dumps({"path": str(p), "label": label}) for p, label in written))
    result = CliRunner().invoke(cli, ["calibrate", "fit", str(manifest), "--space", str(tmp_path / "space"),
                                      "--new", "--modality", "text"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "space" / "calibrators" / "text.json").read_text())
    assert saved["labels"] == LABELS and saved["fitted_on"] == 30
    from unibind.calibration.store import load_calibrator

    temperature = load_calibrator(tmp_path / "space" / "calibrators" / "text.safetensors").calibrator.temperature
    assert f"fitted: temperature T = {temperature:.4f}" in result.output


def test_read_labelled_keeps_the_modality_and_orders_classes_by_labels(registry, tmp_path):
    _write(tmp_path / "mine", per_class=2)
    (tmp_path / "mine" / "cat" / "photo.png").write_bytes(b"not read: another modality")
    found, skipped = read_labelled(tmp_path / "mine", registry, "text", ["truck", "dog", "cat"])
    assert found.classes == ["truck", "dog", "cat"] and len(found.paths) == 6
    assert all(found.classes[t] == p.parent.name for p, t in zip(found.paths, found.targets))
    assert not any(p.suffix == ".png" for p in found.paths)
    with pytest.raises(Exception, match="not among --labels"):
        read_labelled(tmp_path / "mine", registry, "text", ["dog", "cat"])
