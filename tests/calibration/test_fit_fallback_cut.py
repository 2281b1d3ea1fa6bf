"""``calibrate fit`` fits the fallback's cut with the user's calibrator, saves it, prints it, and classify uses it.

Text files scored by the hashing test encoder stand in for a real modality (simulated sentences made
up here: about their class, every third naming another class twice), so it runs without a model.
"""

from __future__ import annotations

import json
import math
import random

from click.testing import CliRunner

from unibind.calibration.defaults import describe_fallback, fallback_for
from unibind.calibration.store import save_calibrator
from unibind_cli.calibrate import load_for_classify
from unibind_cli.main import cli

LABELS = ["dog", "cat", "truck"]
WORDS = ["small", "red", "loud", "old", "wet", "shiny"]


def _write(root, per_class=10):
    rng = random.Random(3)
    for c, label in enumerate(LABELS):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            other = LABELS[(c + 1) % 3]
            (root / label / f"{label}-{i}.txt").write_text(
                f"a {' '.join(rng.sample(WORDS, 2))} {label}" + (f" near a {other} {other}" if i % 3 == 0 else ""))


def test_fit_saves_the_fallback_cut_that_classify_applies_at_the_same_threshold(registry, tmp_path):
    _write(tmp_path / "held", per_class=30)     # enough agreed predictions for the 95 % bound to pass a cut
    space_dir = tmp_path / "space"
    runner = CliRunner()
    fitted = runner.invoke(cli, ["calibrate", "fit", str(tmp_path / "held"), "--space", str(space_dir), "--new",
                                 "--modality", "text", "--labels", ",".join(LABELS), "--threshold", "0.9"])
    assert fitted.exit_code == 0, fitted.output
    entry = json.loads((space_dir / "calibrators" / "text.json").read_text())["provenance"]["fallback"]
    assert entry["threshold"] == 0.9 and entry["fitted"]["agreed"] > 0
    assert describe_fallback(entry) in fitted.output
    space, calibrators, _ = load_for_classify(space_dir, None)
    used = fallback_for(space, calibrators["text"], 0.9)
    assert used.cut == (math.inf if entry["cut"] is None else entry["cut"]) and used.revise == entry["revise"]
    assert used.fitted and fallback_for(space, calibrators["text"], 0.8).fitted      # one of the grid's
    off_grid = fallback_for(space, calibrators["text"], 0.85)
    assert off_grid.cut == 0.5 and not off_grid.fitted
    files = sorted(str(p) for p in (tmp_path / "held").rglob("*.txt"))
    out = runner.invoke(cli, ["classify", *files, "--labels", ",".join(LABELS), "--space", str(space_dir),
                              "--threshold", "0.9", "--json"])
    assert out.exit_code == 0, out.output
    predictions = [json.loads(line) for line in out.output.splitlines() if line.startswith("{")]
    verified = [p for p in predictions if p["fallback"]["decision"] == "verified"]
    # classify on the fitting files runs the fallback the fit saw: the agreed predictions at or above the cut
    assert entry["cut"] is not None and 0 < entry["fitted"]["verified"] <= entry["fitted"]["agreed"]
    assert len(verified) == entry["fitted"]["verified"]
    assert sum(p["label"] == p["source"].split("/")[-2] for p in verified) == entry["fitted"]["verified_right"]
    assert min(p["confidence"] for p in verified) == used.cut


def test_a_fit_below_which_nothing_is_checked_says_so(registry, tmp_path):
    _write(tmp_path / "held")
    fitted = CliRunner().invoke(cli, ["calibrate", "fit", str(tmp_path / "held"), "--space", str(tmp_path / "s"),
                                      "--new", "--modality", "text", "--threshold", "0.01"])
    assert fitted.exit_code == 0, fitted.output
    entry = json.loads((tmp_path / "s" / "calibrators" / "text.json").read_text())["provenance"]["fallback"]
    assert entry["cut"] is None and entry["fitted"]["agreed"] == 0
    assert "fallback at threshold 0.01: never verifies" in fitted.output


def test_the_cut_is_fitted_at_each_threshold_of_the_grid_as_a_fit_at_that_threshold_alone(registry, tmp_path):
    from unibind.calibration.defaults import FALLBACK_GRID, fitted_entry, fitted_thresholds
    from unibind.calibration.scoring import score_files
    from unibind.validation.base import Case, class_texts

    _write(tmp_path / "held")
    fitted = CliRunner().invoke(cli, ["calibrate", "fit", str(tmp_path / "held"), "--space", str(tmp_path / "s"),
                                      "--new", "--modality", "text", "--labels", ",".join(LABELS)])
    assert fitted.exit_code == 0, fitted.output
    assert "a cut fitted the same way at each of 0.5, 0.6, 0.7, 0.8, 0.9" in fitted.output
    space, calibrators, _ = load_for_classify(tmp_path / "s", None)
    record = calibrators["text"].record
    assert record.provenance["fallback"]["threshold"] == 0.6     # calibrate fit's --threshold: the chosen one
    assert fitted_thresholds(record) == list(FALLBACK_GRID)
    files = sorted((tmp_path / "held").rglob("*.txt"))
    scored = score_files(space, files, LABELS, "text")
    probs = calibrators["text"].calibrator(scored.logits)
    truth = [LABELS.index(s.split("/")[-2]) for s in scored.embedded.sources]
    texts = class_texts(space, LABELS, "text")
    for at in FALLBACK_GRID:    # each grid entry is what a fit at that threshold alone finds
        alone = fallback_for(space, calibrators["text"], at)    # the validators' settings classify uses
        stats = alone.fit([Case(s, "text", LABELS, p, v) for s, p, v in
                           zip(scored.embedded.sources, probs, scored.embedded.vectors)], texts, space, truth)
        entry = fitted_entry(record, at)
        assert entry["fitted"]["agreed"] == stats["agreed"] and entry["revise"] == stats["revise"]
        assert entry["cut"] == (None if math.isinf(stats["cut"]) else stats["cut"])
        assert fallback_for(space, calibrators["text"], at).cut == alone.cut
    assert len({fitted_entry(record, at)["fitted"]["agreed"] for at in FALLBACK_GRID}) > 1   # the grid differs


def test_classify_off_the_grid_says_once_that_the_cut_is_unfitted_and_how_to_fit_it(registry, tmp_path):
    _write(tmp_path / "held")
    runner = CliRunner()
    assert runner.invoke(cli, ["calibrate", "fit", str(tmp_path / "held"), "--space", str(tmp_path / "s"), "--new",
                               "--modality", "text", "--labels", ",".join(LABELS)]).exit_code == 0
    files = sorted(str(p) for p in (tmp_path / "held").rglob("*.txt"))[:5]
    args = ["classify", *files, "--labels", ",".join(LABELS), "--space", str(tmp_path / "s")]
    off = runner.invoke(cli, args + ["--threshold", "0.85"])
    assert off.exit_code == 0, off.output
    said = [line for line in off.stderr.splitlines() if "cut is unfitted" in line]
    assert len(said) == 1
    assert ("the text cut is unfitted at threshold 0.85 (fitted at: 0.5, 0.6, 0.7, 0.8, 0.9)" in said[0]
            and f"calibrate fit DATA --space {tmp_path / 's'} --modality text --threshold 0.85" in said[0])
    for on_grid in (["--threshold", "0.7"], []):
        assert "unfitted" not in runner.invoke(cli, args + on_grid).stderr


def test_a_record_from_before_the_grid_still_loads_and_applies_at_its_one_threshold(registry, tmp_path):
    _write(tmp_path / "held")
    assert CliRunner().invoke(cli, ["calibrate", "fit", str(tmp_path / "held"), "--space", str(tmp_path / "s"),
                                    "--new", "--modality", "text", "--threshold", "0.7"]).exit_code == 0
    space, calibrators, _ = load_for_classify(tmp_path / "s", None)
    fitted = calibrators["text"]
    del fitted.record.provenance["fallback"]["grid"]     # the single-entry format written before the grid
    fitted.record.provenance["fallback"]["cut"] = 0.4321
    save_calibrator(tmp_path / "s", fitted)
    space, calibrators, _ = load_for_classify(tmp_path / "s", None)
    assert "grid" not in calibrators["text"].record.provenance["fallback"]
    assert fallback_for(space, calibrators["text"], 0.7).cut == 0.4321
    assert not fallback_for(space, calibrators["text"], 0.6).fitted
