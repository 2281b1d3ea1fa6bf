"""``unibind demo``: the main job, on a few real Tux Paint classes."""

from __future__ import annotations

import json

import pytest

from click.testing import CliRunner

from unibind.datasets import MissingDataError, category_label, tuxpaint_selection
from unibind.demo import DEMO_CLASSES, MODALITIES, DemoConfig, demo_rows, run_demo, split_rows
from unibind_cli.main import cli


def test_demo_class_takes_the_longest_matching_folder():
    assert category_label("animals/mammals/bovines", DEMO_CLASSES) == "cattle"
    assert category_label("animals/mammals/dogs", DEMO_CLASSES) == "mammal"
    assert category_label("animals/mammalsaurus", DEMO_CLASSES) is None
    assert category_label("symbols/alphabets/asl", DEMO_CLASSES) is None
    assert category_label("hobbies/music/string", DEMO_CLASSES) == "musical instrument"


def test_split_keeps_a_stamps_photo_and_sound_together_and_tests_every_class():
    try:
        rows = demo_rows(tuxpaint_selection(DEMO_CLASSES))
    except MissingDataError:
        pytest.fail("tuxpaint-stamps-default is installed by ./setup.sh")
    train, test = split_rows(rows, 0.3, seed=0)
    assert {r["instance"] for r in train}.isdisjoint({r["instance"] for r in test})
    assert {r["label"] for r in test} == {r["label"] for r in rows} == set(DEMO_CLASSES)
    assert {r["modality"] for r in rows} == {"image", "audio"}
    assert not any(r["path"].endswith("_mirror.png") for r in rows)   # a flipped copy would leak across the split
    assert split_rows(rows, 0.3, seed=0) == (train, test)
    assert split_rows(rows, 0.3, seed=1) != (train, test)


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """One small demo run (3 classes, 4 epochs) that the slow tests below share."""
    config = DemoConfig(out=tmp_path_factory.mktemp("demo") / "demo", classes=("bird", "cattle", "insect"),
                        unseen=("insect",), epochs=4, per_class=12)
    return config, run_demo(config, say=lambda _: None)


@pytest.mark.slow
def test_demo_end_to_end_then_reuses_its_work(small_demo):
    config, first = small_demo
    tmp_path = config.out.parent
    assert first.classes == ["bird", "cattle", "insect"]
    for key in ("image/before", "image/after", "audio/before", "audio/after"):
        assert set(first.accuracy[key]) == {"ECL", "template mean", "class name"}
        assert all(0.0 <= v <= 1.0 for v in first.accuracy[key].values())
    assert first.encoded["image"] > 0 and first.encoded["audio"] > 0
    assert first.parameters["trainable"] < first.parameters["frozen"]
    html = first.report.read_text()
    assert "after training" in html and "data:image/png;base64," in html
    assert {"image/before", "image/after", "image/trained without them"} <= set(first.unseen)
    assert (tmp_path / "demo" / "space-seen" / "space.json").is_file()
    # training helps photos on their own held-out split (here 17/18 -> 18/18 with ECL centres), and
    # temperature scaling, fitted on one half of the held-out data, lowers ECE on the other half
    assert first.counts["image/test"] == 18
    for centres in ("ECL", "template mean"):
        assert first.accuracy["image/after"][centres] > first.accuracy["image/before"][centres]
    for m in ("image", "audio"):   # calibrated and better, or refused (a tiny split) with the reason said
        if m in first.calibration:
            c = first.calibration[m]
            assert c["temperature"] > 0 and c["ece_after"] < c["ece_before"], (m, c)
            assert (first.space_dir / "calibrators" / f"{m}.safetensors").is_file()
        else:
            assert "no temperature fitted" in first.uncalibrated[m], m
            assert not (first.space_dir / "calibrators" / f"{m}.safetensors").exists()
    if "image" in first.calibration:
        assert "Reliability, image" in html
    for m, why in first.uncalibrated.items():   # a refusal is said in the report, not hidden
        assert f"{m} not calibrated: no temperature fitted" in html
    saved = json.loads((tmp_path / "demo" / "results.json").read_text())
    assert saved["accuracy"] == first.accuracy

    second = run_demo(config, say=lambda _: None)
    assert second.encoded == {"image": 0, "audio": 0}
    assert second.kb_reused == 3 * len(second.sources)
    assert second.accuracy == first.accuracy


@pytest.mark.slow
def test_after_stage_is_what_eval_report_and_classify_space_give(small_demo, tmp_path):
    """One source of truth for a space's centres: the demo scores with the trained space's saved ones.

    ``classify --space`` must predict every held-out item as the demo did, with
    the same ECL cosine (centres rebuilt from the KB, e.g. with the image prompt
    for sounds, give other cosines), and ``eval report --space`` the same top-1.
    """
    config, first = small_demo
    rows = [json.loads(line) for line in (config.out / "test.jsonl").read_text().splitlines()]
    # the fallback validators may replace a label; the demo's figures are the space's own top-1
    said = CliRunner().invoke(cli, ["classify", "--space", str(first.space_dir), "--json", "--top-k", "1",
                                    "--no-fallback", *[r["path"] for r in rows]])
    assert said.exit_code == 0, said.output
    printed = {p["source"]: p for p in map(json.loads, said.stdout.splitlines())}
    assert len(printed) == len(rows)
    for m in MODALITIES:
        demo = first.predictions[f"{m}/after"]
        assert len(demo) == first.counts[f"{m}/test"]
        for item in demo:
            top = printed[item["source"]]["top"][0]
            assert (top["label"], top["similarity"]) == (item["predicted"], pytest.approx(item["similarity"], abs=1e-5))
        right = sum(printed[item["source"]]["label"] == item["label"] for item in demo)
        assert right / len(demo) == pytest.approx(first.accuracy[f"{m}/after"]["ECL"])

    said = CliRunner().invoke(cli, ["eval", "report", "--data", str(config.out / "test.jsonl"), "--space",
                                    str(first.space_dir), "--no-default", "--kb", str(config.out / "kb.sqlite"),
                                    "--k", str(config.k), "--out", str(tmp_path / "report")])
    assert said.exit_code == 0, said.output
    stage = json.loads((tmp_path / "report" / "report.json").read_text())["stages"][0]
    titles = {f"ECL k={config.k}": "ECL", "template mean": "template mean", "class name": "class name"}
    reported = {(r["modality"], titles[r["method"]]): r["accuracy"] for r in stage["accuracy"] if r["method"] in titles}
    assert reported == {(m, method): pytest.approx(value) for m in MODALITIES
                        for method, value in first.accuracy[f"{m}/after"].items()}
