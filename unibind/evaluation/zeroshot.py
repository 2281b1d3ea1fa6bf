"""Zero-shot accuracy of one set of embeddings under every way of making class centres.

The methods are the knowledge-base issue's baselines and ECL, all built by
:func:`unibind.knowledge.centres.localize` so they share one scoring path:
the bare class name, the mean of the modality's prompt templates (the
CLIP/ImageBind baseline, never read from the knowledge base), the mean of
each description source's texts (WordNet, LLMs...), the mean of all
descriptions, and ECL at several k. ECL and the description means choose
among *descriptions*, as the paper's ECL does: prompt templates stored in
the knowledge base are left out of them, and appear only in a row of their
own that says so. Every row carries a sentence saying what its centres are.
A source the table expects but the knowledge base lacks is a row saying "not
in KB", never a silently missing row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field

from unibind.errors import UniBindError
from unibind.knowledge.centres import TEMPLATE_SOURCE, CentreSettings, localize
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
    sources: list[str] = Field(default_factory=list, description="Empty: every description source but the "
                               "prompt templates.")
    what: str = Field(default="", description="What the row's centres are, in one sentence.")


class ZeroShotRow(BaseModel):
    title: str
    method: str
    k: int | None = None
    sources: list[str] = Field(default_factory=list)
    what: str = Field(default="", description="What the row's centres are, in one sentence.")
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
                 expected: Sequence[str] = EXPECTED_SOURCES, *, modality: str = "image",
                 reduce: str = "max") -> list[Method]:
    """The rows for a knowledge base holding ``kb_sources`` (names of description sources).

    ECL and the means use the descriptions (every source but the prompt
    templates); templates in the knowledge base get one ECL row of their own.
    """
    from unibind.knowledge.templates import TemplateSource

    present = set(kb_sources)
    source = TemplateSource()
    n_templates, prompt = len(source.templates(modality)), source.canonical_prompt("{}", modality)
    described = sorted(present - {TEMPLATE_SOURCE})
    scoring = {"max": "scored by the maximum cosine over them", "mean": "scored by the mean cosine",
               "softmax": "scored by a soft maximum"}.get(reduce, f"scored by {reduce}")
    methods = [Method(title="class name", method="name", what="1 centre: the bare class name"),
               Method(title="template mean", method="templates",
                      what=f"1 centre: mean of the {n_templates} {modality} prompt templates "
                           "(the CLIP/ImageBind baseline ECL is compared with)")]
    for name in dict.fromkeys([*expected, *described]):
        title = SOURCE_TITLES.get(name, name)
        methods.append(Method(title=f"{title} mean", method="mean", sources=[name],
                              what=f"1 centre: mean of the class's {title} descriptions"))
    methods.append(Method(title="all descriptions mean", method="mean",
                          what="1 centre: mean of all the class's descriptions (every source but templates)"))
    methods += [Method(title=f"ECL k={k}", method="ecl", k=k,
                       what=f"ECL: the {k} descriptions (every source but templates) nearest "
                            f"{prompt!r}, {scoring}") for k in ks]
    # ECL over one description source at a time, and (if the KB holds them) with the templates let in:
    # the nearest texts to "a photo of a {}." among templates are mostly templates. With several
    # sources, each gets every k: one row at k=50 cannot tell ECL over 20 LLM texts from their maximum.
    k_one = 50 if 50 in ks else max(ks, default=50)
    per_source_ks = list(ks) if len(described) > 1 else [k_one]
    methods += [Method(title=f"ECL k={k}, {SOURCE_TITLES.get(s, s)} only", method="ecl", k=k, sources=[s],
                       what=f"ECL: the {k} {SOURCE_TITLES.get(s, s)} descriptions nearest {prompt!r} "
                            f"(that source alone), {scoring}")
                for s in described for k in per_source_ks]
    if TEMPLATE_SOURCE in present:
        methods.append(Method(title=f"ECL k={k_one}, descriptions + templates", method="ecl", k=k_one,
                              sources=sorted(present),
                              what="ECL with the knowledge base's prompt templates counted as descriptions "
                                   "(not the paper's ECL: the nearest texts are then mostly templates)"))
    return methods


def kb_source_counts(kb: Any, classes: Sequence[ClassRef], modality: str) -> dict[str, int]:
    """Class descriptions per source that these classes have in ``kb``."""
    return {source: sum(per_class.values()) for source, per_class in _per_source(kb, classes, modality).items()}


def kb_source_coverage(kb: Any, classes: Sequence[ClassRef], modality: str) -> dict[str, int]:
    """How many of ``classes`` have at least one description from each source."""
    return {source: len(per_class) for source, per_class in _per_source(kb, classes, modality).items()}


def described_classes(kb: Any, classes: Sequence[ClassRef], modality: str) -> int:
    """How many of ``classes`` have at least one description that is not a prompt template."""
    per_source = _per_source(kb, classes, modality)
    return len({key for source, per_class in per_source.items() if source != TEMPLATE_SOURCE for key in per_class})


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
    # "every source but templates": the classes with at least one description
    coverage[""] = described_classes(kb, classes, modality)
    methods = list(methods) if methods is not None else plan_methods(
        [s for s in coverage if s], ks, modality=modality, reduce=reduce)
    rows = []
    for m in methods:
        row = ZeroShotRow(title=m.title, method=m.method, k=m.k, sources=m.sources, what=m.what, total=len(labels))
        needs = (m.sources or [""]) if m.method in ("ecl", "mean") else []
        absent = [s for s in needs if coverage.get(s, 0) == 0]
        if absent:
            row.status = "not in KB"
            row.detail = "; ".join(f"no {s} texts for these classes" if s else
                                   "no descriptions (other than prompt templates) for these classes" for s in absent)
            rows.append(row)
            continue
        partial = [s for s in needs if coverage.get(s, 0) < len(classes)]
        if partial:   # a class a source could not describe (e.g. unresolved in WordNet) does not sink the row
            row.detail = "; ".join(f"{s + ' texts' if s else 'descriptions'} for {coverage.get(s, 0)} of {len(classes)} classes"
                                   for s in partial) + "; the canonical prompt stands in for the others"
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
             "| method | centres/class | top-1 | balanced | vs template mean | what the centres are |",
             "|---|---:|---:|---:|---:|---|"]
    for r in result.rows:
        what = (r.what + (f" ({r.detail})" if r.detail else "")).replace("|", "\\|")
        if r.accuracy is None:
            lines.append(f"| {r.title} | – | {r.status} | – | – | {what} |")
            continue
        lo, hi = r.centres_per_class or (0, 0)
        span = f"{lo}" if lo == hi else f"{lo}–{hi}"
        delta = f"{100 * (r.accuracy - base.accuracy):+.1f}" if base and base.accuracy is not None else "–"
        balanced = 100 * (r.balanced_accuracy or 0.0)
        lines.append(f"| {r.title} | {span} | {100 * r.accuracy:.1f} | {balanced:.1f} | {delta} | {what} |")
    return "\n".join(lines)
