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
    _write(tmp_path / "held")
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
    assert fallback_for(space, calibrators["text"], 0.8).cut == 0.5     # fitted for 0.9 only
    files = sorted(str(p) for p in (tmp_path / "held").rglob("*.txt"))
    out = runner.invoke(cli, ["classify", *files, "--labels", ",".join(LABELS), "--space", str(space_dir),
                              "--threshold", "0.9", "--json"])
    assert out.exit_code == 0, out.output
    predictions = [json.loads(line) for line in out.output.splitlines() if line.startswith("{")]
    verified = [p for p in predictions if p["fallback"]["decision"] == "verified"]
    # classify on the fitting files runs the fallback the fit saw: the same agreed predictions, all at the cut
    assert len(verified) == entry["fitted"]["agreed"]
    assert sum(p["label"] == p["source"].split("/")[-2] for p in verified) == entry["fitted"]["agreed_right"]
    assert min(p["confidence"] for p in verified) == used.cut


def test_a_fit_below_which_nothing_is_checked_says_so(registry, tmp_path):
    _write(tmp_path / "held")
    fitted = CliRunner().invoke(cli, ["calibrate", "fit", str(tmp_path / "held"), "--space", str(tmp_path / "s"),
                                      "--new", "--modality", "text", "--threshold", "0.01"])
    assert fitted.exit_code == 0, fitted.output
    entry = json.loads((tmp_path / "s" / "calibrators" / "text.json").read_text())["provenance"]["fallback"]
    assert entry["cut"] is None and entry["fitted"]["agreed"] == 0
    assert "fallback at threshold 0.01: never verifies" in fitted.output
