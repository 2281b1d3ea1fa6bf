"""Build a :class:`~unibind.evaluation.stage.Stage` from a live space and labelled data.

The text side asks every modality with the image prompts ("a photo of a
{}."), one query per class, as the paper's Fig. 5 does for events and
images: a balanced space answers such a query with every modality. Class
scores (template mean, class name, ECL) use each set's own modality's
prompts and templates.
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
                  modality: str = "image", skip: Sequence[str] = ()) -> dict[str, Scorer]:
    """Template mean and class name (no knowledge base needed), and ECL at ``k`` when one is given;
    methods titled in ``skip`` are not built."""
    from unibind.knowledge.store import KnowledgeBase
    from unibind.knowledge.textcache import TextEmbedder

    embedder = TextEmbedder.from_space(space)
    plans = [(f"ECL k={k}", "ecl"), ("template mean", "templates"), ("class name", "name")]
    scorers: dict[str, Scorer] = {}
    kb = KnowledgeBase(kb_path, read_only=True) if kb_path is not None else None
    try:
        for title, method in plans:
            if (method == "ecl" and kb is None) or title in skip:
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
                     k: int = 50, **embed_kwargs: Any) -> tuple[Stage, list[dict[str, str]], list[str]]:
    """Embed ``sets`` in ``space`` (through the feature cache); returns the stage, the skipped items and notes
    (which centres each method used)."""
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
    modalities = list(dict.fromkeys(s.modality for s in sets))
    own, notes = saved_centre_scorers(space, [c.name for c in classes], modalities)
    covered = [method for method, by_modality in own.items() if len(by_modality) == len(modalities)]
    # each modality's baselines from its own prompts and template set (an audio set is not asked "a photo of")
    built = {m: class_scorers(space, classes, kb_path=kb_path, k=k, modality=m, skip=covered) for m in modalities}
    scorers: dict[str, Any] = {method: {m: built[m][method] for m in modalities if method in built[m]}
                               for method in dict.fromkeys(t for by_method in built.values() for t in by_method)}
    for method, by_modality in own.items():  # the space's saved sets, as `classify --space` scores with them
        fallback = scorers.get(method, {})
        scorers[method] = {s.modality: by_modality.get(s.modality, fallback.get(s.modality)) for s in sets}
        if any(v is None for v in scorers[method].values()):
            scorers[method] = {m: v for m, v in scorers[method].items() if v is not None}
            notes.append(f"{method}: only for {', '.join(sorted(scorers[method]))}, the modalities with saved centres")
    stage = Stage(title, embedded, [c.name for c in classes], scorers, prompts, float(space.logit_scale))
    return stage, skipped, [f"{title}: {n}" for n in notes]


def centres_title(centre_set: Any) -> str:
    """The report's name of a centre set's method (the same names as :func:`class_scorers`')."""
    s = centre_set.meta.settings
    return {"ecl": f"ECL k={s.k}", "templates": "template mean", "name": "class name",
            "mean": "mean of all descriptions"}[s.method]


def saved_centre_scorers(space: Any, labels: Sequence[str],
                         modalities: Sequence[str]) -> tuple[dict[str, dict[str, Scorer]], list[str]]:
    """The space's own saved centre sets as scorers (method title -> modality -> scorer), and notes.

    One source of truth: a trained space is scored with the centres it saved,
    exactly as ``unibind classify --space`` scores, never with centres rebuilt
    from a knowledge base that may have changed since. A knowledge base that did
    change is named (the centres are stale); the saved ones are still used.
    """
    from unibind.errors import InputError
    from unibind.knowledge.centres import stale_classes

    out: dict[str, dict[str, Scorer]] = {}
    notes: list[str] = []
    if getattr(space, "centres", None) is None:
        return out, notes
    for modality in dict.fromkeys(modalities):
        try:
            centre_set = space.centre_set(None, list(labels), modality)
        except InputError as exc:
            notes.append(f"{modality}: the space's centres do not cover these classes ({exc.problem}); "
                         "its rows are built from the knowledge base")
            continue
        if centre_set is None:
            continue
        title = centres_title(centre_set)
        out.setdefault(title, {})[modality] = centre_set.score
        where = centre_set.path.name if centre_set.path is not None else "the space's centres"
        notes.append(f"{modality}: {title} from the space's saved centres ({where}), as classify --space uses")
        built = getattr(space, "built_classes", {}).get(modality)
        if built is not None:  # classes outside the saved centres, built by the space's recipe as classify builds them
            notes.append(built.describe())
        new = {label.casefold() for label in built.labels} if built is not None else set()
        stale = [c for c in stale_classes(centre_set) or [] if c.casefold() not in new]
        if stale:
            notes.append(f"{modality}: the space's centres are stale: the knowledge base "
                         f"{centre_set.meta.knowledge_base or '(template set)'} changed since they were made, for "
                         f"{len(stale)} of {len(labels)} classes ({', '.join(stale[:5])}"
                         f"{' ...' if len(stale) > 5 else ''}); train again to use what it holds now")
    return out, notes


def report_for_spaces(spaces: Sequence[tuple[str, Any]], sets: Sequence[EvalSet], out_dir: str | Path, *,
                      kb_path: str | Path | None = None, k: int = 50, zeroshot: Sequence[Any] = (),
                      figures: Sequence[tuple[str, str]] = (), command: str = "",
                      draw: bool = True, on_stage: Any = None, **embed_kwargs: Any) -> Path:
    """Evaluate ``sets`` in each ``(title, space)`` (e.g. before and after training); write the HTML report.

    ``on_stage(result, notes)`` is called with each stage's result as it is measured (the CLI prints it).
    """
    from unibind.evaluation.report import Report, stage_slug, write_report
    from unibind.evaluation.stage import draw_stage, evaluate_stage

    report = Report(command=command, zeroshot=list(zeroshot), figures=list(figures))
    report.notes += [f"{s.name}: {len(s.items)} {s.modality} items, {len(s.classes)} classes ({s.note})"
                     for s in sets]
    slugs: list[str] = []
    for title, space in spaces:
        stage, skipped, notes = stage_from_space(space, sets, title, kb_path=kb_path, k=k, **embed_kwargs)
        report.notes += notes
        result = evaluate_stage(stage)
        if draw:
            slugs.append(stage_slug(title, slugs))
            result.pictures = draw_stage(stage, out_dir, slugs[-1])
        report.stages.append(result)
        if on_stage is not None:
            on_stage(result, notes)
        report.notes += [f"{title}: skipped {f['source']}: {f['reason']}" for f in skipped]
    return write_report(report, out_dir)
