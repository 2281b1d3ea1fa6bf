"""The report opens with the result (issue 15): tables per modality, what did not work, unseen counts."""

from __future__ import annotations

import re

from pathlib import Path

from unibind.evaluation.report import Report, write_report
from unibind.evaluation.summary import (CalibrationRow, ClassRow, SummaryRow, UnseenRow, findings, per_class,
                                        summary_rows)


def synthetic_report(tmp_path: Path, stages=()) -> Report:
    rows = summary_rows({"image": {"ECL": 0.40, "template mean": 0.35}, "audio": {"ECL": 0.125}},
                        {"image": {"ECL": 0.70, "template mean": 0.60}, "audio": {"ECL": 0.125}},
                        {"image": 95, "audio": 24}, classes=17)
    calibration = [CalibrationRow(modality="image", ece_raw=0.316, ece_calibrated=0.061, temperature=1.87,
                                  fitted_on=43, measured_on=52)]
    unseen = [UnseenRow(modality="image", method="ECL", items=28,
                        right={"bridge only": 10, "trained with them": 20, "trained without them": 9}),
              UnseenRow(modality="audio", method="ECL", items=1,
                        right={"bridge only": 0, "trained with them": 0, "trained without them": 0})]
    return Report(title="synthetic report", command="pytest", stages=list(stages), summary=rows,
                  calibration=calibration, unseen=unseen, unseen_classes=["fish", "tree"],
                  findings=findings(rows, unseen, calibration, method="ECL"),
                  ece_note="ECE appears twice: whole split (n = 95) and the held-out half (n = 52).",
                  settings={"text encoder": "minilm", "epochs": "60", "seed": "0", "unibind": "0.1.0",
                            "a long setting": "x" * 300},
                  per_class={"image": [ClassRow(label=f"class {i}", precision=0.5, recall=0.25, f1=1 / 3,
                                                support=i) for i in range(17)]},
                  notes=["synthetic numbers"])


def test_the_summary_is_the_first_thing_on_the_page(tmp_path):
    html = write_report(synthetic_report(tmp_path), tmp_path).read_text()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.index('id="summary"') < html.index("synthetic numbers")  # before the notes and stages
    image = html[html.index("image: top-1 % on 95 held-out items (chance 5.9 %)"):]
    assert re.search(r"<td>ECL</td>\s*<td>40.0</td>\s*<td>70.0</td>\s*<td class=\"up\">\+30.0</td>", image)
    assert "0.316 → 0.061 (T = 1.87, n = 52)" in html
    assert "audio did not improve with training (ECL top-1 12.5 % -&gt; 12.5 %, chance 5.9 %, n = 24)" in html
    assert "ECE appears twice" in html


def test_unseen_classes_are_integer_counts_and_small_sets_are_not_judged(tmp_path):
    html = write_report(synthetic_report(tmp_path), tmp_path).read_text()
    table = html[html.index('id="unseen"'):html.index('id="per-class"')]
    assert "<th>bridge only</th><th>trained with them</th><th>trained without them</th>" in table
    assert "<td>10 (36 %)</td><td>20 (71 %)</td><td>9 (32 %)</td>" in table
    assert "<td>0</td><td>0</td><td>0</td>" in table and "too few to judge (n &lt; 20)" in table
    assert ".000" not in table and "unseen classes, audio: only 1 test items, too few to judge." in html


def test_per_class_rows_are_scikit_learns():
    rows = per_class(["a", "a", "b", "c"], ["a", "b", "b", "a"], ["a", "b", "c", "d"])
    assert [(r.label, r.precision, r.recall, r.support) for r in rows] == [
        ("a", 0.5, 0.5, 2), ("b", 0.5, 1.0, 1), ("c", 0.0, 0.0, 1)]
    assert abs(rows[1].f1 - 2 / 3) < 1e-9


def test_findings_name_a_modality_that_did_not_improve_and_nothing_when_all_worked():
    good = [SummaryRow(modality="image", method="ECL", before=0.3, after=0.6, chance=0.1, items=50)]
    assert findings(good, [UnseenRow(modality="image", method="ECL", items=30, right={"bridge only": 3,
                    "trained without them": 5})], [], method="ECL") == []
    flat = [SummaryRow(modality="audio", method="ECL", before=0.2, after=0.2, chance=0.1, items=50)]
    assert findings(flat, [], [], method="ECL") == [
        "audio did not improve with training (ECL top-1 20.0 % -> 20.0 %, chance 10.0 %, n = 50)."]
