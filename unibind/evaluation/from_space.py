"""Build a :class:`~unibind.evaluation.stage.Stage` from a live space and labelled data.

The text side asks every modality with the image prompts ("a photo of a
{}."), one query per class, as the paper's Fig. 5 does for events and
images: a balanced space answers such a query with every modality.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unibind.evaluation.data import EvalSet
from unibind.evaluation.runner import embed_set
from unibind.evaluation.stage import EmbeddedSet, Scorer, Stage
from unibind.knowledge.centres import CentreSettings, canonical_prompt, localize
from unibind.knowledge.records import ClassRef


def class_scorers(space: Any, classes: Sequence[ClassRef], *, kb_path: str | Path | None = None, k: int = 50,
                  modality: str = "image") -> dict[str, Scorer]:
    """Template mean and class name (no knowledge base needed), and ECL at ``k`` when one is given."""
    from unibind.knowledge.store import KnowledgeBase
    from unibind.knowledge.textcache import TextEmbedder

    embedder = TextEmbedder.from_space(space)
    plans = [(f"ECL k={k}", "ecl"), ("template mean", "templates"), ("class name", "name")]
    scorers: dict[str, Scorer] = {}
    kb = KnowledgeBase(kb_path, read_only=True) if kb_path is not None else None
    try:
        for title, method in plans:
            if method == "ecl" and kb is None:
                continue
            # ECL chooses among descriptions (not templates); a class with none keeps its canonical prompt
            settings = CentreSettings(method=method, k=k, modality=modality,  # type: ignore[arg-type]
                                      on_empty="prompt" if method == "ecl" else "error")
            scorers[title] = localize(classes, embedder, settings, kb=kb, progress=False).score
    finally:
        if kb is not None:
            kb.close()
    return scorers


def stage_from_space(space: Any, sets: Sequence[EvalSet], title: str, *, kb_path: str | Path | None = None,
                     k: int = 50, **embed_kwargs: Any) -> tuple[Stage, list[dict[str, str]]]:
    """Embed ``sets`` in ``space`` (through the feature cache); returns the stage and the skipped items."""
    from unibind.knowledge.textcache import TextEmbedder

    classes = list(dict.fromkeys(c for s in sets for c in s.classes))
    embedded, skipped = [], []
    for data in sets:
        feats = embed_set(space, data, **embed_kwargs)
        skipped += [f.model_dump() for f in feats.failures]
        embedded.append(EmbeddedSet(
            modality=data.modality, vectors=feats.vectors,
            labels=[data.classes[int(data.labels[i])].name for i in feats.index],
            names=[data.names[i] for i in feats.index], items=[data.items[i] for i in feats.index],
            pair_ids=[data.pair_keys[i] for i in feats.index] if data.pair_keys is not None else None))
    settings = CentreSettings(modality="image")
    prompts = TextEmbedder.from_space(space)([canonical_prompt(c, settings) for c in classes])
    scorers = class_scorers(space, classes, kb_path=kb_path, k=k)
    stage = Stage(title, embedded, [c.name for c in classes], scorers, prompts, float(space.logit_scale))
    return stage, skipped


def report_for_spaces(spaces: Sequence[tuple[str, Any]], sets: Sequence[EvalSet], out_dir: str | Path, *,
                      kb_path: str | Path | None = None, k: int = 50, zeroshot: Sequence[Any] = (),
                      figures: Sequence[tuple[str, str]] = (), command: str = "",
                      draw: bool = True, **embed_kwargs: Any) -> Path:
    """Evaluate ``sets`` in each ``(title, space)`` (e.g. before and after training); write the HTML report."""
    from unibind.evaluation.report import Report, stage_slug, write_report
    from unibind.evaluation.stage import draw_stage, evaluate_stage

    report = Report(command=command, zeroshot=list(zeroshot), figures=list(figures))
    report.notes += [f"{s.name}: {len(s.items)} {s.modality} items, {len(s.classes)} classes ({s.note})"
                     for s in sets]
    slugs: list[str] = []
    for title, space in spaces:
        stage, skipped = stage_from_space(space, sets, title, kb_path=kb_path, k=k, **embed_kwargs)
        result = evaluate_stage(stage)
        if draw:
            slugs.append(stage_slug(title, slugs))
            result.pictures = draw_stage(stage, out_dir, slugs[-1])
        report.stages.append(result)
        report.notes += [f"{title}: skipped {f['source']}: {f['reason']}" for f in skipped]
    return write_report(report, out_dir)
