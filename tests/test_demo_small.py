"""A small ``unibind demo`` (3 classes, k = 4, 2 epochs) for what the k = 50 run in test_demo.py cannot see.

At k = 4 the trained space's per-modality centres differ from centres rebuilt from the
knowledge base, so the demo's after-stage equalling ``classify --space`` and ``eval report
--space`` means something; and every stage of one run shares one built encoder per model.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from unibind.calibration.store import CalibratorRecord, FittedCalibrator, save_calibrator
from unibind.calibration.temperature import TemperatureScaler, TemperatureSettings
from unibind.demo import MODALITIES, DemoConfig, run_demo
from unibind.encoders.pool import counting_builds
from unibind_cli.main import cli


@pytest.fixture(scope="module")
def built_demo(tmp_path_factory):
    """One small demo run with every encoder construction counted by (encoder, its settings)."""
    config = DemoConfig(out=tmp_path_factory.mktemp("demo-small") / "demo", classes=("bird", "cattle", "insect"),
                        unseen=("insect",), epochs=2, per_class=12, k=4)
    with counting_builds() as built:
        result = run_demo(config, say=lambda _: None)
    return config, result, built


@pytest.mark.slow
def test_every_encoder_is_built_once_per_demo_run(built_demo):
    """Training, the before and after spaces and the space trained without the unseen classes share them."""
    config, result, built = built_demo
    assert result.unseen and (config.out / "space-seen" / "space.json").is_file()   # all five users ran
    names = {name for name, _ in built}
    assert {"unibind:minilm", "image:efficientnet-lite0", "audio:spectrogram-image"} <= names
    assert built and all(n == 1 for n in built.values()), built


def _flatten(space_dir, labels):
    """Save a temperature so large that every calibrated probability ties in float32 (the old demo saved
    audio T 8.4e7 before such fits were refused): ``classify`` must still name the top-cosine class."""
    for m in MODALITIES:
        flat = TemperatureScaler(TemperatureSettings(temperature=8.4e7, max_temperature=1e9))
        save_calibrator(space_dir, FittedCalibrator(flat, CalibratorRecord(
            name="temperature", modality=m, fitted_on=4, logit_scale=100.0, labels=list(labels))))


@pytest.mark.slow
def test_k4_after_stage_is_what_classify_space_and_eval_report_give(built_demo, tmp_path):
    config, result, _ = built_demo
    rows = [json.loads(line) for line in (config.out / "test.jsonl").read_text().splitlines()]
    flattened = shutil.copytree(result.space_dir, tmp_path / "flattened")
    _flatten(flattened, result.classes)
    for space_dir in (result.space_dir, flattened):
        said = CliRunner().invoke(cli, ["classify", "--space", str(space_dir), "--json", "--top-k", "1",
                                        "--no-fallback", *[r["path"] for r in rows]])
        assert said.exit_code == 0, said.output
        printed = {p["source"]: p for p in map(json.loads, said.stdout.splitlines())}
        assert len(printed) == len(rows)
        for m in MODALITIES:
            for item in result.predictions[f"{m}/after"]:
                top = printed[item["source"]]["top"][0]
                assert (top["label"], top["similarity"]) == (
                    item["predicted"], pytest.approx(item["similarity"], abs=1e-5)), (space_dir.name, item)

    said = CliRunner().invoke(cli, ["eval", "report", "--data", str(config.out / "test.jsonl"), "--space",
                                    str(result.space_dir), "--no-default", "--kb", str(config.out / "kb.sqlite"),
                                    "--k", str(config.k), "--out", str(tmp_path / "report")])
    assert said.exit_code == 0, said.output
    stage = json.loads((tmp_path / "report" / "report.json").read_text())["stages"][0]
    ecl = {r["modality"]: r["accuracy"] for r in stage["accuracy"] if r["method"] == f"ECL k={config.k}"}
    assert ecl == {m: pytest.approx(result.accuracy[f"{m}/after"]["ECL"]) for m in MODALITIES}


@pytest.mark.slow
def test_unseen_figures_of_the_space_trained_without_them_are_what_classify_gives(built_demo):
    """The space trained without "insect" scores it as `classify --space S --labels <all> --kb KB` does: its
    saved centres, insect built now from the demo's KB, its own calibrated-stacking offset."""
    config, result, _ = built_demo
    rows = [json.loads(line) for line in (config.out / "test.jsonl").read_text().splitlines()]
    insects = [r for r in rows if r["label"] == "insect" and r["modality"] == "image"]
    said = CliRunner().invoke(cli, ["classify", "--space", str(config.out / "space-seen"), "--labels",
                                    ",".join(config.classes), "--kb", str(config.out / "kb.sqlite"), "--json",
                                    "--no-fallback", *[r["path"] for r in insects]])
    assert said.exit_code == 0, said.output
    assert "insect" in said.stderr                             # built now, and said
    right = sum(json.loads(line)["label"] == "insect" for line in said.stdout.splitlines())
    figures = result.unseen["image/trained without them"]
    assert figures["items"] == len(insects)
    assert figures["ECL"] == pytest.approx(right / len(insects))
