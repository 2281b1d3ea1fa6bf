"""The pure parts of scripts/choose_init.py: the sklearn-digits set and the pre-registered decision rule.

The script itself trains on real data for minutes (docs/choosing-the-start.md); these check what the
confirmation's new set holds and that the rule decides as written there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from choose_init import NUMBER_WORDS, PICTURE_SIDE, decide, load_set, main  # noqa: E402


def test_sklearn_digits_are_real_upscaled_pictures_per_class(tmp_path: Path) -> None:
    from PIL import Image

    rows = load_set("sklearn-digits", tmp_path, per_class=3)
    assert len(rows) == 30
    assert sorted({r["label"] for r in rows}) == sorted(NUMBER_WORDS)
    assert {r["modality"] for r in rows} == {"image"}
    with Image.open(rows[0]["path"]) as first:
        assert first.size == (PICTURE_SIDE, PICTURE_SIDE)
        assert first.mode == "RGB"
        low, high = first.convert("L").getextrema()
        assert high > 200 and low < 30  # ink stretched from 0-16 to the full range
    # written once: a second load reuses the files instead of rewriting them
    stamp = Path(rows[0]["path"]).stat().st_mtime_ns
    assert load_set("sklearn-digits", tmp_path, per_class=3) == rows
    assert Path(rows[0]["path"]).stat().st_mtime_ns == stamp


def _results(default: tuple[list[float], list[float]], candidate: tuple[list[float], list[float]],
             items: int = 300, seconds: tuple[float, float] = (10.0, 20.0)) -> dict:
    def row(seen_unseen, took):
        return {"seen": seen_unseen[0], "unseen": seen_unseen[1], "zsl": [], "gamma": [], "train seconds": [took]}

    return {"set": {"items": items, "figures": {"d": row(default, seconds[0]), "c": row(candidate, seconds[1])}}}


@pytest.mark.parametrize(("candidate", "switch"), [
    (([0.60], [0.40]), True),     # H up, seen up
    (([0.46], [0.40]), True),     # H up, seen down by 0.04 (allowed)
    (([0.44], [0.60]), False),    # H up, seen down by 0.06 (more than allowed)
    (([0.60], [0.15]), False),    # seen up but H down
    (([0.50], [0.20]), False),    # equal H does not exceed
])
def test_decision_rule_switches_only_on_higher_h_within_the_seen_allowance(candidate, switch) -> None:
    taken, means = decide(_results(([0.50], [0.20]), candidate), "d", "c")
    assert taken is switch
    assert means["c"]["train seconds"] == 20.0


def test_decision_rule_ignores_sets_too_small_to_vote() -> None:
    results = {**_results(([0.5], [0.2]), ([0.6], [0.4])),
               "tiny": _results(([0.9], [0.9]), ([0.0], [0.0]), items=50)["set"]}
    assert decide(results, "d", "c")[0] is True


def test_decide_names_two_known_rows_or_is_one_error_line(capsys) -> None:
    assert main(["--decide", "text-bridge anchor=10", "--summarise", "nothing.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: --decide") and err.count("\n") == 1
