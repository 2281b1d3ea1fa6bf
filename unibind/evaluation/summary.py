"""The report's first screen: the result in a few tables, and what did not work.

A reader should not have to scroll 3,000 px from a "before" table to an
"after" one. These records put, per modality, top-1 before and after training
next to chance and n, ECE raw and calibrated with the fitted temperature, the
unseen-class result as counts, and a per-class breakdown (scikit-learn's
precision, recall, F1 and support); :func:`findings` states plainly what did
not improve and which figures rest on too few items to judge.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

#: Below this many items a figure is shown but marked "too few to judge".
MIN_ITEMS_TO_JUDGE = 20


class SummaryRow(BaseModel):
    """Top-1 of one modality with one kind of class centres, before and after training."""

    modality: str
    method: str
    before: float | None
    after: float | None
    chance: float
    items: int

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


class CalibrationRow(BaseModel):
    """Temperature scaling of one modality: fitted on one half of the test split, measured on the other."""

    modality: str
    ece_raw: float
    ece_calibrated: float
    temperature: float
    fitted_on: int
    measured_on: int


class UnseenRow(BaseModel):
    """Top-1 on classes left out of one training run, in three spaces, as a count of right items."""

    modality: str
    method: str
    items: int
    right: dict[str, int] = Field(description="space ('bridge only', 'trained with them', 'trained without "
                                  "them') -> right items")

    @property
    def judged(self) -> bool:
        return self.items >= MIN_ITEMS_TO_JUDGE


class ClassRow(BaseModel):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


def summary_rows(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]],
                 items: dict[str, int], classes: int) -> list[SummaryRow]:
    """Rows from ``{modality: {method: top-1}}`` before and after; chance is 1 / classes."""
    rows = []
    for modality in dict.fromkeys([*before, *after]):
        methods = dict.fromkeys([*before.get(modality, {}), *after.get(modality, {})])
        rows += [SummaryRow(modality=modality, method=m, before=before.get(modality, {}).get(m),
                            after=after.get(modality, {}).get(m), chance=1 / max(1, classes),
                            items=items.get(modality, 0)) for m in methods]
    return rows


def per_class(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> list[ClassRow]:
    """Precision, recall, F1 and support per class (scikit-learn), for classes with test items or predictions."""
    from sklearn.metrics import precision_recall_fscore_support

    present = [c for c in classes if c in set(truth) or c in set(predicted)]
    precision, recall, f1, support = precision_recall_fscore_support(
        list(truth), list(predicted), labels=present, zero_division=0)
    return [ClassRow(label=c, precision=float(p), recall=float(r), f1=float(f), support=int(n))
            for c, p, r, f, n in zip(present, precision, recall, f1, support)]


def findings(rows: Sequence[SummaryRow], unseen: Sequence[UnseenRow], calibration: Sequence[CalibrationRow],
             *, method: str) -> list[str]:
    """Plain sentences on what did not work (or cannot be judged), for the top of the report."""
    out = []
    for r in rows:
        if r.method != method or r.change is None:
            continue
        figures = (f"{method} top-1 {100 * r.before:.1f} % -> {100 * r.after:.1f} %, chance "
                   f"{100 * r.chance:.1f} %, n = {r.items}")
        if r.change <= 0:
            out.append(f"{r.modality} did not improve with training ({figures}).")
        elif r.items < MIN_ITEMS_TO_JUDGE:
            out.append(f"{r.modality}: too few test items to judge the gain ({figures}).")
        if r.after <= r.chance * 1.5:
            out.append(f"{r.modality} stays near chance after training ({figures}).")
    for u in unseen:
        if not u.judged:
            out.append(f"unseen classes, {u.modality}: only {u.items} test items, too few to judge.")
        elif u.right.get("trained without them", 0) < u.right.get("bridge only", 0):
            out.append(f"unseen classes, {u.modality}: training without them lost accuracy on them "
                       f"({u.right['bridge only']} -> {u.right['trained without them']} of {u.items} right).")
    for c in calibration:
        if c.ece_calibrated >= c.ece_raw:
            out.append(f"calibration, {c.modality}: temperature scaling did not lower ECE "
                       f"({c.ece_raw:.3f} -> {c.ece_calibrated:.3f}, n = {c.measured_on}).")
    return out
