"""``unibind demo``: the main job, on a few real Tux Paint classes."""

from __future__ import annotations

import json

import pytest

from unibind.datasets import MissingDataError, category_label, tuxpaint_selection
from unibind.demo import DEMO_CLASSES, DemoConfig, demo_rows, run_demo, split_rows


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


@pytest.mark.slow
def test_demo_end_to_end_then_reuses_its_work(tmp_path):
    config = DemoConfig(out=tmp_path / "demo", classes=("bird", "cattle", "insect"), unseen=("insect",), epochs=4,
                        per_class=12)
    first = run_demo(config, say=lambda _: None)
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
    for m in ("image", "audio"):
        c = first.calibration[m]
        assert c["temperature"] > 0 and c["ece_after"] < c["ece_before"], (m, c)
    assert (first.space_dir / "calibrators" / "image.safetensors").is_file()
    assert "Reliability, image" in html
    saved = json.loads((tmp_path / "demo" / "results.json").read_text())
    assert saved["accuracy"] == first.accuracy

    second = run_demo(config, say=lambda _: None)
    assert second.encoded == {"image": 0, "audio": 0}
    assert second.kb_reused == 3 * len(second.sources)
    assert second.accuracy == first.accuracy
