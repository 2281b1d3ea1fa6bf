"""Run a zero-shot table end to end: knowledge base for the classes, cached embeddings, every method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unibind.errors import NotRegisteredError
from unibind.evaluation.data import EvalSet
from unibind.evaluation.features import Features, cached_embeddings
from unibind.evaluation.zeroshot import DEFAULT_KS, ZeroShotResult, evaluate_methods, kb_source_counts, to_markdown
from unibind.knowledge.records import ClassRef


def ensure_kb(kb_path: str | Path, classes: Sequence[ClassRef], sources: Sequence[str], *, per_class: int = 100,
              modality: str = "image", registry: Any = None, progress: bool | None = None) -> dict[str, str]:
    """Build (or resume) the knowledge base for ``classes`` with those of ``sources`` that are installed.

    ``sources`` are ``name[:key=value,...]`` as for ``unibind kb build``.
    Returns a status per source: what was kept, or why it was not used.
    """
    from unibind.knowledge.builder import build_knowledge_base
    from unibind.knowledge.sources import parse_source_arg
    from unibind.knowledge.store import KnowledgeBase

    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    status: dict[str, str] = {}
    usable = []
    for arg in sources:
        name, settings = parse_source_arg(arg)
        try:
            registry.get("description_source", name)
        except NotRegisteredError:
            status[name] = "not installed"
            continue
        usable.append((name, settings))
    if not usable:
        return status
    with KnowledgeBase(kb_path) as kb:
        report = build_knowledge_base(kb, list(classes), usable, per_class=per_class, modality=modality,
                                      registry=registry, progress=progress)
    for s in report.sources:
        status[s.source] = f"{s.kept} kept" + (f", {s.failed} failed: {s.errors[0]}" if s.failed else "")
    return status


def embed_set(space: Any, data: EvalSet, **kwargs: Any) -> Features:
    """Space embeddings of an evaluation set through the feature cache (bad files skipped, reported)."""
    load = space.pipeline(data.modality).loader.load if data.paths else None
    return cached_embeddings(space, data.modality, data.items, data.data_key, load=load, **kwargs)


def describe_space(space: Any, modality: str) -> dict[str, str]:
    pipe, text = space.pipeline(modality), space.pipeline("text")
    return {"encoder": pipe.encoder_name, "adapter": pipe.adapter_name, "text_encoder": text.encoder_name}


def zero_shot(space: Any, data: EvalSet, kb_path: str | Path, *, ks: Sequence[int] = DEFAULT_KS,
              reduce: str = "max", command: str = "", **embed_kwargs: Any) -> ZeroShotResult:
    """Every method's top-1 accuracy on ``data`` in ``space``, centres from the knowledge base."""
    from unibind.knowledge.store import KnowledgeBase
    from unibind.knowledge.textcache import TextEmbedder

    feats = embed_set(space, data, **embed_kwargs)
    labels = data.labels[feats.index]
    embedder = TextEmbedder.from_space(space)
    with KnowledgeBase(kb_path, create=False) as kb:
        rows = evaluate_methods(feats.vectors, labels, data.classes, embedder=embedder, kb=kb, ks=ks,
                                modality=data.modality, reduce=reduce)
        counts = kb_source_counts(kb, data.classes, data.modality)
    return ZeroShotResult(dataset=data.name, modality=data.modality, classes=data.class_names,
                          items=len(feats.index), space=describe_space(space, data.modality), kb_sources=counts,
                          reduce=reduce, rows=rows, skipped=[f.model_dump() for f in feats.failures],
                          command=command)


def write_results(results: Sequence[ZeroShotResult], out_dir: str | Path, stem: str = "zeroshot") -> list[Path]:
    """``<stem>.json`` (all results) and ``<stem>.md`` (the tables), written atomically."""
    import json

    from unibind.atomic import atomic_open

    out_dir = Path(out_dir)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    with atomic_open(json_path) as fh:
        json.dump([r.model_dump(mode="json") for r in results], fh, indent=2)
    with atomic_open(md_path) as fh:
        parts = [to_markdown(r) for r in results]
        if results and results[0].command:
            parts.append(f"Reproduce: `{results[0].command}`")
        fh.write("\n\n".join(parts) + "\n")
    return [json_path, md_path]
