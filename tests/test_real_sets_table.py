"""The pure parts of scripts/real_sets_table.py: the seen/unseen split, the fallback's subset, the table.

The script itself trains and scores real data for ~20 minutes (docs/real-sets.md); these check what
decides which items are held out and how the figures are printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from real_sets_table import SETS, TITLES, main, markdown_table, spread, split_seen_unseen, summarise  # noqa: E402


def _rows(classes: int = 10, per_class: int = 10, paired: bool = False) -> list[dict]:
    rows = []
    for c in range(classes):
        for i in range(per_class):
            instance = f"c{c}/s{i}"
            rows.append({"path": f"{instance}.png", "label": f"class{c}", "modality": "image",
                         "instance": instance})
            if paired and i % 2 == 0:
                rows.append({"path": f"{instance}.ogg", "label": f"class{c}", "modality": "audio",
                             "instance": instance})
    return rows


def test_split_holds_out_unseen_classes_entirely_and_a_share_of_each_seen_class() -> None:
    rows = _rows()
    split = split_seen_unseen(rows, seed=0)
    assert len(split["unseen_classes"]) == 3                      # 30 % of 10
    assert not {r["label"] for r in split["train"] + split["seen_test"]} & set(split["unseen_classes"])
    assert {r["label"] for r in split["unseen_test"]} == set(split["unseen_classes"])
    for label in split["seen_classes"]:
        assert sum(r["label"] == label for r in split["seen_test"]) == 3   # 30 % of 10 instances
        assert sum(r["label"] == label for r in split["train"]) == 7
    train_paths = {r["path"] for r in split["train"]}
    assert not train_paths & {r["path"] for r in split["seen_test"] + split["unseen_test"]}
    assert len(split["train"]) + len(split["seen_test"]) + len(split["unseen_test"]) == len(rows)


def test_split_is_seeded_and_keeps_an_instance_on_one_side() -> None:
    rows = _rows(paired=True)
    a, b, c = split_seen_unseen(rows, 1), split_seen_unseen(rows, 1), split_seen_unseen(rows, 2)
    assert a == b
    assert (a["unseen_classes"], a["seen_test"]) != (c["unseen_classes"], c["seen_test"])
    train = {r["instance"] for r in a["train"]}
    assert not train & {r["instance"] for r in a["seen_test"]}      # a stamp's photo and sound stay together


def test_split_of_tiny_sets_keeps_a_seen_class_and_a_training_item() -> None:
    split = split_seen_unseen(_rows(classes=2, per_class=2), seed=0)
    assert len(split["unseen_classes"]) == 1 and len(split["seen_classes"]) == 1
    assert len(split["train"]) == 1 and len(split["seen_test"]) == 1
    with pytest.raises(ValueError):
        split_seen_unseen(_rows(classes=1), seed=0)


def test_spread_takes_evenly_spaced_items_and_all_when_the_limit_is_large() -> None:
    assert spread(range(10), 5) == [0, 2, 4, 6, 8]
    assert spread([3, 7, 9], 10) == [3, 7, 9]
    assert spread([3, 7, 9], 0) == []


def _seed(seen_after: float, ece_after: float, balance: dict | None = None) -> dict:
    return {"trained": {"seen_before": 0.5, "seen_after": seen_after, "unseen_before": 0.2,
                        "unseen_after": None},
            "calibration": {"ece_before": 0.4, "ece_fitted": ece_after, "ece_shipped": None, "held_out": 50},
            "fallback": {"count": 0}, "balance": balance}


def test_summary_averages_seeds_and_the_table_prints_missing_figures_as_dashes() -> None:
    zero = {"items": 100, "classes": 10, "balanced": {"class name": 0.1, "template mean": 0.25, "ecl": 0.2}}
    row = summarise("Set", "audio", [_seed(0.8, 0.1), _seed(0.6, 0.3)], zero)
    assert row["trained"]["seen_after"] == pytest.approx(0.7)
    assert row["calibration"]["ece_fitted"] == pytest.approx(0.2)
    assert row["calibration"]["held_out"] == "50+50" and row["balance"] is None
    table = markdown_table([row], k=50).splitlines()
    assert table[0].count("|") == table[1].count("|") == table[2].count("|")
    assert "ECL k=50" in table[0]
    cells = [c.strip() for c in table[2].strip("|").split("|")]
    assert cells[:5] == ["Set (audio)", "100 / 10", "10.0", "25.0", "20.0"]
    assert cells[5] == "50.0 → 70.0" and cells[6] == "20.0 → –"
    assert cells[7] == "0.400 → 0.200 → – (50+50)"
    assert cells[8] == "– / – → – / – (0+0)" and cells[9] == "–"


def test_a_refused_temperature_is_counted_not_averaged_as_a_figure() -> None:
    zero = {"items": 100, "classes": 10, "balanced": {}}
    refused = _seed(0.6, None)
    refused["calibration"]["fitted_refused"] = "no temperature fitted: the best T is 487"
    row = summarise("Set", "image", [_seed(0.8, 0.1), refused], zero)
    assert row["calibration"]["ece_fitted"] == pytest.approx(0.1) and row["calibration"]["fitted_refused"] == 1
    cells = [c.strip() for c in markdown_table([row], k=50).splitlines()[2].strip("|").split("|")]
    assert cells[7] == "0.400 → 0.100 (T refused 1×) → – (50+50)"


def test_balance_column_when_the_set_has_two_modalities() -> None:
    zero = {"items": 10, "classes": 2, "balanced": {}}
    balance = {"before": 0.05, "after": 0.2, "gallery": 0.25}
    row = summarise("Pairs", "image", [_seed(0.5, 0.1, balance)], zero)
    assert markdown_table([row], k=5).splitlines()[2].endswith("| 5.0 → 20.0 (25.0) |")


@pytest.mark.parametrize("argv", [["--sets", "cifar"], ["--seeds", "a,b"], ["--per-class", "1"]])
def test_bad_options_end_in_one_error_line(argv: list[str], tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error:")
    assert not (tmp_path / "out").exists() and not (tmp_path / "work").exists()


def test_every_set_has_a_title_and_loads_through_one_loader() -> None:
    from real_data import PICTURE_SETS

    assert set(TITLES) == set(SETS) and set(PICTURE_SETS) <= set(SETS)
