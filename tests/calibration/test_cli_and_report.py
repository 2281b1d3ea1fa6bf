"""``unibind calibrate fit`` / ``report`` machinery, ``classify --space/--threshold``, and the PNG figures.

Text files scored by the hashing test encoder stand in for a real modality (simulated data:
sentences made up here), so the whole path runs in seconds without a model.
"""

from __future__ import annotations

import json
import random

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from unibind.calibration.diagrams import reliability_diagram, reliability_diagrams, risk_coverage_plot
from unibind.calibration.metrics import risk_coverage
from unibind.calibration.report import LabelledFiles, format_report, measure, split_halves
from unibind.space import Space
from unibind_cli.main import cli

LABELS = ["dog", "cat", "truck"]
WORDS = ["small", "red", "loud", "old", "wet", "shiny"]


def _write_texts(root, per_class=8, seed=0, folders=True):
    """Simulated sentences: mostly about their class, some confusing ones naming another class too."""
    rng = random.Random(seed)
    paths, targets = [], []
    for c, label in enumerate(LABELS):
        for i in range(per_class):
            other = LABELS[(c + 1) % 3]
            words = " ".join(rng.sample(WORDS, 2))
            text = f"a {words} {label}" + (f" near a {other} {other}" if i % 3 == 0 else "")
            folder = root / label if folders else root
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{label}-{i}.txt"
            path.write_text(text)
            paths.append(path)
            targets.append(c)
    return paths, targets


def test_fit_saves_a_calibrator_that_classify_applies_with_the_fallback(registry, tmp_path):
    _write_texts(tmp_path / "held")
    space_dir = tmp_path / "space"
    runner = CliRunner()
    fitted = runner.invoke(cli, ["calibrate", "fit", str(tmp_path / "held"), "--space", str(space_dir), "--new",
                                 "--modality", "text", "--labels", ",".join(LABELS)])
    assert fitted.exit_code == 0, fitted.output
    assert "temperature fitted on 24 text files" in fitted.output
    record = json.loads((space_dir / "calibrators" / "text.json").read_text())
    assert record["labels"] == LABELS and record["metrics"]["after"]["nll"] <= record["metrics"]["before"]["nll"]
    query = tmp_path / "q.txt"
    query.write_text("a dog near a cat")
    out = runner.invoke(cli, ["classify", str(query), "--labels", ",".join(LABELS), "--space", str(space_dir),
                              "--threshold", "0.999", "--explain", "--json"])
    assert out.exit_code == 0, out.output
    prediction = json.loads(out.output.splitlines()[0])
    assert prediction["calibrated"] and prediction["fallback"]["ran"]
    assert {v["name"] for v in prediction["fallback"]["validators"]} == {"yes-no", "caption-agreement", "cross-modal"}
    assert prediction["explanation"]["top"][0]["description"]
    bad = runner.invoke(cli, ["classify", str(query), "--labels", "cat,dog,truck", "--space", str(space_dir)])
    assert bad.exit_code == 0                               # temperature is not tied to the label order
    (tmp_path / "held" / "horse").mkdir()
    refused = runner.invoke(cli, ["calibrate", "fit", str(tmp_path / "held"), "--space", str(space_dir),
                                  "--modality", "text", "--labels", ",".join(LABELS)])
    assert refused.exit_code != 0 and "horse" in refused.output


def test_measure_reports_calibration_and_fallback_on_held_out_files(registry, tmp_path):
    paths, targets = _write_texts(tmp_path / "data", per_class=10, folders=False)
    (tmp_path / "data" / "broken.txt").write_bytes(b"\xff\xfe\x00bad utf")
    data = LabelledFiles("toy", "text", paths + [tmp_path / "data" / "broken.txt"], targets + [0], LABELS,
                         note="simulated sentences")
    space = Space(registry=registry, settings={"hashing": {"dim": 128}})
    result = measure(space, data, tmp_path / "out", calibrators=("temperature", "vector"))
    assert result["held_out"] + result["calibration_half"] == 30 + 1 - len(result["skipped"])
    assert set(result["calibrators"]) == {"temperature", "vector"}
    before, scaled = result["before"], result["calibrators"]["temperature"]
    # softmax of 100 x cos is overconfident: scaling softens it (T > 1), which lowers the held-out NLL
    # (here 6.97 -> 0.63; ECE on 15 samples is too noisy to compare) without changing a prediction
    assert scaled["temperature"] > 1
    assert scaled["nll"] < before["nll"] / 2
    assert scaled["accuracy"] == before["accuracy"]
    f = result["fallback"]
    assert f["with"]["coverage"] >= f["without"]["coverage"]
    assert sum(f["decisions"].values()) == result["held_out"]
    for png in (result["reliability_png"], f["risk_coverage_png"]):
        assert Image.open(png).size[0] > 300
    cached = measure(space, data, tmp_path / "out", calibrators=("temperature",))   # from the score cache
    assert cached["before"] == result["before"]
    assert "fallback coverage" in format_report([result])


def test_split_halves_is_stratified_and_seeded():
    targets = [0] * 10 + [1] * 6
    a, b = split_halves(targets, seed=1)
    assert sorted(a.tolist() + b.tolist()) == list(range(16))
    assert sum(targets[i] for i in a) == 3 and len(a) == 8
    assert split_halves(targets, seed=1)[0].tolist() == a.tolist() != split_halves(targets, seed=2)[0].tolist()


def test_diagrams_are_pngs_and_reject_nothing_to_draw(tmp_path):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(400, 5, generator=gen) * 6
    labels = torch.randint(0, 5, (400,), generator=gen)
    one = reliability_diagram(torch.softmax(logits, -1), labels, tmp_path / "one.png", title="before")
    two = reliability_diagrams({"before": torch.softmax(logits, -1), "after": torch.softmax(logits / 6, -1)},
                               labels, tmp_path / "two.png")
    assert Image.open(two).size[0] > Image.open(one).size[0] * 1.5
    curve = risk_coverage_plot({"conf": risk_coverage([.9, .5, .2], [1, 0, 1])}, tmp_path / "rc.png",
                               points={"t": (0.5, 0.2)})
    assert Image.open(curve).format == "PNG"
    with pytest.raises(ValueError, match="no probabilities"):
        reliability_diagrams({}, labels, tmp_path / "none.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png", "rc.png", "two.png"]
