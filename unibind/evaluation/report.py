"""The evaluation report: one self-contained HTML page (jinja2) plus its JSON and PNG files.

Pictures are embedded as data URIs so the page can be mailed on its own,
and also left beside it as PNG files (JPEG for photo grids). The page opens
with the result (:mod:`unibind.evaluation.summary`) and reads on a phone:
wide tables scroll sideways instead of widening the page. Calibration figures (reliability
diagrams) from :mod:`unibind.calibration` are passed in as ``figures``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from unibind.evaluation.stage import StageResult
from unibind.evaluation.summary import MIN_ITEMS_TO_JUDGE, CalibrationRow, ClassRow, SummaryRow, UnseenRow
from unibind.evaluation.zeroshot import ZeroShotResult, best_baseline
from unibind.knowledge.records import now

#: The page template (jinja2, autoescaped), shipped beside this module.
TEMPLATE = Path(__file__).with_name("report.html.j2")

PICTURE_TITLES = {"tsne": "t-SNE map (colour and label: class, marker: modality, stars: class prompts)",
                  "grid": "Retrieval grid (green: right class, red: wrong)"}


class Report(BaseModel):
    """What the HTML shows, as data (written beside it as ``report.json``)."""

    title: str = "UniBind evaluation"
    command: str = ""
    created_at: str = Field(default_factory=now)
    notes: list[str] = Field(default_factory=list)
    zeroshot: list[ZeroShotResult] = Field(default_factory=list)
    stages: list[StageResult] = Field(default_factory=list)
    figures: list[tuple[str, str]] = Field(default_factory=list, description="(title, PNG path) of extra figures.")
    settings: dict[str, str] = Field(default_factory=dict, description="Run settings shown at the top "
                                     "(encoders, epochs, seed, version).")
    summary: list[SummaryRow] = Field(default_factory=list, description="Top-1 before -> after per modality.")
    calibration: list[CalibrationRow] = Field(default_factory=list)
    ece_note: str = Field(default="", description="Which split and n each ECE figure is measured on.")
    unseen: list[UnseenRow] = Field(default_factory=list)
    unseen_classes: list[str] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list, description="What did not work, in plain sentences.")
    per_class: dict[str, list[ClassRow]] = Field(default_factory=dict, description="Modality -> per-class rows.")
    per_class_title: str = ""


def render_html(report: Report, out_dir: str | Path) -> str:
    """The page; pictures named in ``report`` are read from ``out_dir`` (or their own path) and embedded."""
    from jinja2 import Environment

    out_dir = Path(out_dir)
    stages = []
    for s in report.stages:
        methods = list(dict.fromkeys(r.method for r in s.accuracy))
        table: dict[str, dict[str, tuple[float, float | None]]] = {}
        items: dict[str, int] = {}
        for r in s.accuracy:
            table.setdefault(r.modality, {})[r.method] = (r.accuracy, r.balanced_accuracy)
            items[r.modality] = r.items
        ks = sorted({k for r in s.retrieval for k in r.recall})
        images = [(PICTURE_TITLES.get(name, name), _data_uri(out_dir / file), name == "grid")
                  for name, file in s.pictures.items()]
        stages.append({"title": s.title, "result": s, "methods": methods, "accuracy_table": table, "counts": items,
                       "ks": ks, "images": images})
    zeroshot = []
    for z in report.zeroshot:
        base = best_baseline(z.rows)
        zeroshot.append({**z.model_dump(), "baseline": base.accuracy if base is not None else None})
    figures = [(title, _data_uri(out_dir / path)) for title, path in report.figures]
    summary: dict[str, list[SummaryRow]] = {}
    for row in report.summary:
        summary.setdefault(row.modality, []).append(row)
    calibration = {c.modality: c for c in report.calibration}
    env = Environment(autoescape=True)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(title=report.title, created_at=report.created_at, command=report.command,
                           notes=report.notes, zeroshot=zeroshot, stages=stages, figures=figures,
                           settings=report.settings, summary=summary, calibration=calibration,
                           ece_note=report.ece_note, unseen=report.unseen, unseen_classes=report.unseen_classes,
                           findings=report.findings, per_class=report.per_class,
                           per_class_title=report.per_class_title, min_items=MIN_ITEMS_TO_JUDGE,
                           unseen_spaces=UNSEEN_SPACES)


#: Columns of the unseen-class table: which space classified the left-out classes.
UNSEEN_SPACES = ("bridge only", "trained with them", "trained without them")


def write_report(report: Report, out_dir: str | Path) -> Path:
    """``report.html`` and ``report.json`` in ``out_dir``, each written atomically."""
    from unibind.atomic import atomic_open

    out_dir = Path(out_dir)
    html = render_html(report, out_dir)
    with atomic_open(out_dir / "report.json") as fh:
        json.dump(report.model_dump(mode="json"), fh, indent=2)
    with atomic_open(out_dir / "report.html") as fh:
        fh.write(html)
    return out_dir / "report.html"


def _data_uri(path: Path) -> str:
    from unibind.errors import InputError

    if not path.is_file():
        raise InputError(path, "figure for the report not found")
    kind = "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"
    return f"data:image/{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def stage_slug(title: str, used: Sequence[str] = ()) -> str:
    """A file-name-safe name for a stage's pictures, unique among ``used``."""
    base = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-") or "stage"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    return slug
