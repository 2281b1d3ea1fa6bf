"""The evaluation report: one self-contained HTML page (jinja2) plus its JSON and PNG files.

Pictures are embedded as data URIs so the page can be mailed on its own,
and also left beside it as PNG files. Calibration figures (reliability
diagrams) from :mod:`unibind.calibration` are passed in as ``figures``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from unibind.evaluation.stage import StageResult
from unibind.evaluation.zeroshot import ZeroShotResult, best_baseline
from unibind.knowledge.records import now

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child, td.l { text-align: left; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
img { max-width: 100%; border: 1px solid #ddd; }
.note { color: #666; font-size: 0.88em; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="note">Written {{ created_at }}{% if command %} by <code>{{ command }}</code>{% endif %}.</p>
{% for n in notes %}<p class="note">{{ n }}</p>{% endfor %}

{% if zeroshot %}<h2>Zero-shot accuracy by class centres</h2>
{% for z in zeroshot %}
<table><caption>{{ z.dataset }}: {{ z.items }} {{ z.modality }} items, {{ z.classes|length }} classes
 ({{ z.space.encoder }} + {{ z.space.adapter }}; scoring {{ z.reduce }})</caption>
<tr><th>method</th><th>centres/class</th><th>top-1 %</th><th>balanced %</th><th>vs template mean</th></tr>
{% for r in z.rows %}<tr><td>{{ r.title }}</td>
{% if r.accuracy is none %}<td>–</td><td colspan="3" class="l">{{ r.status }}{% if r.detail %} ({{ r.detail }}){% endif %}</td>
{% else %}<td>{{ r.centres_per_class[0] }}{% if r.centres_per_class[1] != r.centres_per_class[0] %}–{{ r.centres_per_class[1] }}{% endif %}</td>
<td>{{ "%.1f"|format(100 * r.accuracy) }}</td><td>{{ "%.1f"|format(100 * r.balanced_accuracy) }}</td>
<td>{% if z.baseline is not none %}{{ "%+.1f"|format(100 * (r.accuracy - z.baseline)) }}{% else %}–{% endif %}</td>{% endif %}</tr>
{% endfor %}</table>
{% endfor %}{% endif %}

{% for s in stages %}<h2>{{ s.title }}</h2>
<table><caption>Zero-shot accuracy</caption><tr><th>modality</th>{% for m in s.methods %}<th>{{ m }}</th>{% endfor %}<th>items</th></tr>
{% for mod, row in s.accuracy_table.items() %}<tr><td>{{ mod }}</td>{% for m in s.methods %}<td>{{ "%.1f"|format(100 * row[m]) if m in row else "–" }}</td>{% endfor %}<td>{{ s.items[mod] }}</td></tr>{% endfor %}
</table>
<table><caption>Retrieval recall@K (%)</caption><tr><th>query → gallery</th><th>relevant if</th><th>text side</th>
{% for k in s.ks %}<th>R@{{ k }}</th>{% endfor %}<th>queries</th></tr>
{% for r in s.result.retrieval %}<tr><td>{{ r.query }} → {{ r.gallery }}</td><td class="l">{{ "same class" if r.relevance == "class" else "same stamp" }}</td>
<td class="l">{{ r.method or "–" }}</td>{% for k in s.ks %}<td>{{ "%.1f"|format(100 * r.recall[k]) }}</td>{% endfor %}<td>{{ r.queries }}</td></tr>{% endfor %}
</table>
{% if s.result.balance %}<table><caption>Balance: share of each modality among the top k for text queries (%) —
 a balanced space matches the gallery's own shares</caption>
<tr><th>text side</th><th>k</th>{% for m in s.result.gallery_shares %}<th>{{ m }}</th>{% endfor %}</tr>
<tr><td class="l">gallery</td><td>all</td>{% for m, v in s.result.gallery_shares.items() %}<td>{{ "%.1f"|format(100 * v) }}</td>{% endfor %}</tr>
{% for b in s.result.balance %}<tr><td class="l">{{ b.method }}</td><td>{{ b.k }}</td>{% for m in s.result.gallery_shares %}<td>{{ "%.1f"|format(100 * b.shares.get(m, 0)) }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
{% for name, uri in s.images %}<h3>{{ name }}</h3><img alt="{{ name }}" src="{{ uri }}">{% endfor %}
{% endfor %}

{% if figures %}<h2>Calibration</h2>
{% for name, uri in figures %}<h3>{{ name }}</h3><img alt="{{ name }}" src="{{ uri }}">{% endfor %}{% endif %}
</body></html>
"""

PICTURE_TITLES = {"tsne": "t-SNE map (colour: class, marker: modality, stars: class prompts)",
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


def render_html(report: Report, out_dir: str | Path) -> str:
    """The page; pictures named in ``report`` are read from ``out_dir`` (or their own path) and embedded."""
    from jinja2 import Environment

    out_dir = Path(out_dir)
    stages = []
    for s in report.stages:
        methods = list(dict.fromkeys(r.method for r in s.accuracy))
        table: dict[str, dict[str, float]] = {}
        items: dict[str, int] = {}
        for r in s.accuracy:
            table.setdefault(r.modality, {})[r.method] = r.accuracy
            items[r.modality] = r.items
        ks = sorted({k for r in s.retrieval for k in r.recall})
        images = [(PICTURE_TITLES.get(name, name), _data_uri(out_dir / file)) for name, file in s.pictures.items()]
        stages.append({"title": s.title, "result": s, "methods": methods, "accuracy_table": table, "items": items,
                       "ks": ks, "images": images})
    zeroshot = []
    for z in report.zeroshot:
        base = best_baseline(z.rows)
        zeroshot.append({**z.model_dump(), "baseline": base.accuracy if base is not None else None})
    figures = [(title, _data_uri(out_dir / path)) for title, path in report.figures]
    env = Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(title=report.title, created_at=report.created_at, command=report.command,
                                            notes=report.notes, zeroshot=zeroshot, stages=stages, figures=figures)


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
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def stage_slug(title: str, used: Sequence[str] = ()) -> str:
    """A file-name-safe name for a stage's pictures, unique among ``used``."""
    base = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-") or "stage"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    return slug
