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


def test_larger_sets_take_100_per_class_after_the_30_every_earlier_run_used(tmp_path: Path, monkeypatch) -> None:
    import numpy as np
    import real_data

    labels = np.repeat([0, 1], 140)
    images = np.arange(280, dtype=np.uint8)[:, None, None] * np.ones((1, 2, 2), dtype=np.uint8)
    monkeypatch.setattr(real_data, "_arrays", lambda name: (images, labels, ("zero", "one")))
    larger = load_set("mnist-100", tmp_path, per_class=30)   # the set's name fixes the count
    earlier = load_set("mnist", tmp_path, per_class=30)
    assert len(larger) == 200 and len(earlier) == 60
    assert {r["label"] for r in larger} == {"zero", "one"}
    indices = {int(Path(r["path"]).stem) for r in larger}
    assert indices == set(range(30, 130)) | set(range(170, 270))   # items 31-130 of each class
    assert not indices & {int(Path(r["path"]).stem) for r in earlier}


def _stamp(root: Path, folder: str, names: list[str]) -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / folder / f"{name}.png").write_bytes(b"")


def test_tuxpaint_subcategories_label_by_the_folder_below_the_category(tmp_path: Path) -> None:
    from real_data import SUBCATEGORY_MAX, tuxpaint_subcategories

    _stamp(tmp_path, "animals/birds", [f"bird{i}" for i in range(5)] + ["bird0_mirror"])
    _stamp(tmp_path, "animals/mammals/cats", ["cat0", "cat1", "cat2"])      # deeper folders fold into mammals
    _stamp(tmp_path, "animals/mammals/dogs", ["dog0", "dog1"])
    _stamp(tmp_path, "hobbies/music/string", [f"violin{i}" for i in range(5)])
    _stamp(tmp_path, "symbols/music", [f"note{i}" for i in range(5)])      # same folder name, another class
    _stamp(tmp_path, "food/nuts", [f"nut{i}" for i in range(4)])           # too few: dropped
    _stamp(tmp_path, "clothes", [f"shirt{i}" for i in range(9)])           # no sub-category: not a class
    _stamp(tmp_path, "symbols/alphabets/asl", [f"a{i:02d}" for i in range(20)])
    _stamp(tmp_path, "symbols/alphabets/english", [f"e{i:02d}" for i in range(40)])
    _stamp(tmp_path, "animals/cartoon", [f"toon{i}" for i in range(6)])    # cartoons are not photos
    rows = tuxpaint_subcategories(tmp_path)
    count = {label: sum(r["label"] == label for r in rows) for label in {r["label"] for r in rows}}
    assert count == {"birds": 5, "mammals": 5, "musical instruments": 5, "music notation": 5,
                     "alphabets": SUBCATEGORY_MAX}
    alphabets = [Path(r["path"]).parent.name for r in rows if r["label"] == "alphabets"]
    assert alphabets.count("asl") == 10 and alphabets.count("english") == 20   # thinned evenly, not the first 30
    assert {r["modality"] for r in rows} == {"image"}
    assert not any("mirror" in r["path"] for r in rows)


def test_per_class_given_with_a_fixed_size_set_is_refused_not_ignored(capsys):
    assert main(["--sets", "fashion-mnist,mnist-100", "--per-class", "50"]) == 2
    assert "--per-class does not apply to mnist-100 (always 100 per class" in capsys.readouterr().err
