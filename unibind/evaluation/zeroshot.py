"""Zero-shot accuracy of one set of embeddings under every way of making class centres.

The methods are the knowledge-base issue's baselines and ECL, all built by
:func:`unibind.knowledge.centres.localize` so they share one scoring path:
the bare class name, the mean of the prompt templates, the mean of each
description source's texts (WordNet, LLMs...), the mean of all
descriptions, and ECL over the whole knowledge base at several k. A source
the table expects but the knowledge base lacks is a row saying "not in KB",
never a silently missing row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field

from unibind.errors import UniBindError
from unibind.knowledge.centres import CentreSettings, localize
from unibind.knowledge.records import ClassRef, now

DEFAULT_KS = (5, 10, 20, 50, 100)
#: Description sources the table always has a row for (present or not).
EXPECTED_SOURCES = ("wordnet", "llm-transformers")
SOURCE_TITLES = {"wordnet": "WordNet", "llm-transformers": "LLM (transformers)", "llm-openai": "LLM (OpenAI API)"}

Status = Literal["ok", "not in KB", "failed"]


class Method(BaseModel):
    """One row of the table: a title and the centre settings that make it."""

    title: str
    method: Literal["ecl", "name", "templates", "mean"]
    k: int | None = None
    sources: list[str] = Field(default_factory=list)


class ZeroShotRow(BaseModel):
    title: str
    method: str
    k: int | None = None
    sources: list[str] = Field(default_factory=list)
    status: Status = "ok"
    detail: str = ""
    accuracy: float | None = None
    balanced_accuracy: float | None = Field(default=None, description="Mean of the per-class recalls.")
    correct: int = 0
    total: int = 0
    centres_per_class: tuple[int, int] | None = Field(default=None, description="(min, max) over classes.")


class ZeroShotResult(BaseModel):
    """A whole table: what was measured, on what, with which knowledge base."""

    dataset: str
    modality: str
    classes: list[str]
    items: int
    space: dict[str, Any] = Field(default_factory=dict, description="Encoder/adapter names of the space.")
    kb_sources: dict[str, int] = Field(default_factory=dict, description="Texts per source for these classes.")
    reduce: str = "max"
    rows: list[ZeroShotRow]
    skipped: list[dict[str, str]] = Field(default_factory=list, description="Items that failed to load.")
    command: str = ""
    created_at: str = Field(default_factory=now)


def plan_methods(kb_sources: Iterable[str], ks: Sequence[int] = DEFAULT_KS,
                 expected: Sequence[str] = EXPECTED_SOURCES) -> list[Method]:
    """The rows for a knowledge base holding ``kb_sources`` (names of description sources)."""
    present = set(kb_sources)
    methods = [Method(title="class name", method="name"),
               Method(title="template mean", method="templates")]
    for source in dict.fromkeys([*expected, *sorted(present - {"templates"})]):
        title = SOURCE_TITLES.get(source, source)
        methods.append(Method(title=f"{title} mean", method="mean", sources=[source]))
    methods.append(Method(title="all descriptions mean", method="mean"))
    methods += [Method(title=f"ECL k={k}", method="ecl", k=k) for k in ks]
    # ECL over one description source: the nearest texts to "a photo of a {}." in a knowledge base
    # that holds the templates are mostly templates; these rows show ECL on the descriptions alone
    k_one = 50 if 50 in ks else max(ks, default=50)
    methods += [Method(title=f"ECL k={k_one}, {SOURCE_TITLES.get(s, s)} only", method="ecl", k=k_one, sources=[s])
                for s in sorted(present - {"templates"})]
    return methods


def kb_source_counts(kb: Any, classes: Sequence[ClassRef], modality: str) -> dict[str, int]:
    """Class descriptions per source that these classes have in ``kb``."""
    return {source: sum(per_class.values()) for source, per_class in _per_source(kb, classes, modality).items()}


def kb_source_coverage(kb: Any, classes: Sequence[ClassRef], modality: str) -> dict[str, int]:
    """How many of ``classes`` have at least one description from each source."""
    return {source: len(per_class) for source, per_class in _per_source(kb, classes, modality).items()}


def _per_source(kb: Any, classes: Sequence[ClassRef], modality: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    refs = [kb.resolve(c) for c in classes]
    for d in kb.descriptions(refs, kind="class_description", modality=modality):
        per_class = out.setdefault(d.provenance.source, {})
        per_class[d.class_ref.key] = per_class.get(d.class_ref.key, 0) + 1
    return out


def accuracy(scores: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, int]:
    """Top-1 accuracy, balanced accuracy (mean per-class recall over classes present), and hits."""
    predicted = scores.argmax(dim=1)
    hits = predicted == labels
    recalls = [hits[labels == c].float().mean() for c in labels.unique()]
    return float(hits.float().mean()), float(torch.stack(recalls).mean()), int(hits.sum())


def evaluate_methods(embeddings: torch.Tensor, labels: Sequence[int] | torch.Tensor, classes: Sequence[ClassRef],
                     *, embedder: Any, kb: Any, methods: Sequence[Method] | None = None, modality: str = "image",
                     reduce: str = "max", ks: Sequence[int] = DEFAULT_KS) -> list[ZeroShotRow]:
    """One row per method: accuracy of ``embeddings`` (unit norm, ``[N, d]``) against ``classes``.

    ``labels`` index into ``classes``; ``embedder`` is the space's
    :class:`~unibind.knowledge.textcache.TextEmbedder`. A method whose source
    has no texts for any of the classes is reported "not in KB"; one that
    lacks some classes runs with the canonical prompt standing in for them
    (said in the row's detail); one that fails otherwise is reported
    "failed" with its error, and the others still run.
    """
    labels = torch.as_tensor(labels, dtype=torch.long)
    if embeddings.shape[0] != labels.shape[0]:
        raise ValueError(f"{embeddings.shape[0]} embeddings but {labels.shape[0]} labels")
    coverage = kb_source_coverage(kb, classes, modality)
    methods = list(methods) if methods is not None else plan_methods(coverage, ks)
    rows = []
    for m in methods:
        row = ZeroShotRow(title=m.title, method=m.method, k=m.k, sources=m.sources, total=len(labels))
        absent = [s for s in m.sources if coverage.get(s, 0) == 0]
        if absent:
            row.status = "not in KB"
            row.detail = "; ".join(f"no {s} texts for these classes" for s in absent)
            rows.append(row)
            continue
        partial = [s for s in m.sources if coverage.get(s, 0) < len(classes)]
        if partial:   # a class a source could not describe (e.g. unresolved in WordNet) does not sink the row
            row.detail = "; ".join(f"{s} texts for {coverage.get(s, 0)} of {len(classes)} classes" for s in partial) \
                + "; the canonical prompt stands in for the others"
        settings = CentreSettings(method=m.method, k=m.k or 50, sources=m.sources, modality=modality,
                                  reduce=reduce, on_empty="prompt" if partial else "error")  # type: ignore[arg-type]
        try:
            centres = localize(classes, embedder, settings, kb=kb, progress=False)
        except (UniBindError, ValueError) as exc:
            row.status, row.detail = "failed", str(exc)
            rows.append(row)
            continue
        scores = centres.score(embeddings)
        row.accuracy, row.balanced_accuracy, row.correct = accuracy(scores, labels)
        row.centres_per_class = (min(centres.counts), max(centres.counts))
        rows.append(row)
    return rows


def best_baseline(rows: Sequence[ZeroShotRow]) -> ZeroShotRow | None:
    """The template-mean row (the paper's baseline for ECL), if it was measured."""
    return next((r for r in rows if r.method == "templates" and r.accuracy is not None), None)


def to_markdown(result: ZeroShotResult) -> str:
    """The table as GitHub markdown, with ECL's gain over the template mean in points."""
    base = best_baseline(result.rows)
    lines = [f"**{result.dataset}** ({result.items} {result.modality} items, {len(result.classes)} classes; "
             f"scoring: {result.reduce})", "",
             "| method | centres/class | top-1 | balanced | vs template mean |",
             "|---|---:|---:|---:|---:|"]
    for r in result.rows:
        if r.accuracy is None:
            lines.append(f"| {r.title} | – | {r.status} | – | – |")
            continue
        lo, hi = r.centres_per_class or (0, 0)
        span = f"{lo}" if lo == hi else f"{lo}–{hi}"
        delta = f"{100 * (r.accuracy - base.accuracy):+.1f}" if base and base.accuracy is not None else "–"
        balanced = 100 * (r.balanced_accuracy or 0.0)
        lines.append(f"| {r.title} | {span} | {100 * r.accuracy:.1f} | {balanced:.1f} | {delta} |")
    return "\n".join(lines)
