"""Run a zero-shot table end to end: knowledge base for the classes, cached embeddings, every method."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unibind.errors import NotRegisteredError
from unibind.evaluation.data import EvalSet
from unibind.evaluation.features import Features, cached_embeddings
from unibind.evaluation.zeroshot import DEFAULT_KS, ZeroShotResult, evaluate_methods, kb_source_counts, to_markdown
from unibind.knowledge.records import ClassRef


@dataclass
class KnowledgePlan:
    """Which knowledge base a command reads, and what (if anything) it wrote where."""

    path: Path
    status: dict[str, str] = field(default_factory=dict)
    wrote: Path | None = None

    def messages(self, given: str | Path) -> list[str]:
        lines = [f"source {name}: {what}" for name, what in self.status.items()]
        if self.wrote is None:
            lines.append(f"read {given} (not changed)")
        elif Path(given) != self.wrote:
            lines.append(f"read {given} (not changed); what it lacked was added to {self.wrote}, "
                         f"which this run reads instead (--update-kb writes into {given} itself)")
        return lines


def ensure_kb(kb_path: str | Path, classes: Sequence[ClassRef], sources: Sequence[str], *, per_class: int = 100,
              modality: str = "image", registry: Any = None, progress: bool | None = None) -> dict[str, str]:
    """Build (or resume) the knowledge base at ``kb_path`` itself: for a file the command owns.

    ``sources`` are ``name[:key=value,...]`` as for ``unibind kb build``.
    Returns a status per source: what was kept, or why it was not used.
    """
    from unibind.knowledge.store import KnowledgeBase

    status, usable = _installed(sources, registry)
    if not usable:
        return status
    with KnowledgeBase(kb_path) as kb:
        status.update(_build(kb, classes, usable, per_class, modality, registry, progress))
    return status


def knowledge_for(kb_path: str | Path, classes: Sequence[ClassRef], sources: Sequence[str], *, scratch: str | Path,
                  per_class: int = 100, modality: str = "image", update: bool = False, registry: Any = None,
                  progress: bool | None = None) -> KnowledgePlan:
    """The knowledge base an evaluation reads, never changing one the user gave it to read.

    A missing ``kb_path`` is built there (it is this command's output), as is
    an existing one with ``update``. Otherwise the user's file is only read:
    a source that has no description of some class there (for this
    modality) is run for those classes alone into ``scratch``, a copy of the
    user's file, and the plan reads the scratch copy. A source that has some
    descriptions of a class is used as it is, never topped up.
    """
    from unibind.knowledge.store import KnowledgeBase

    kb_path = Path(kb_path)
    if update or not kb_path.exists():
        return KnowledgePlan(kb_path, ensure_kb(kb_path, classes, sources, per_class=per_class, modality=modality,
                                                registry=registry, progress=progress), wrote=kb_path)
    status, usable = _installed(sources, registry)
    with KnowledgeBase(kb_path, read_only=True) as kb:
        missing = {name: _lacking(kb, classes, name, modality) for name, _ in usable}
    todo = [(name, settings) for name, settings in usable if missing[name]]
    for name, _ in usable:
        if not missing[name]:
            status[name] = "used as found"
    if not todo:
        return KnowledgePlan(kb_path, status)
    scratch = _scratch_copy(kb_path, Path(scratch))
    with KnowledgeBase(scratch) as kb:
        for name, settings in todo:
            built = _build(kb, missing[name], [(name, settings)], per_class, modality, registry, progress)
            status[name] = f"{built[name]} for {len(missing[name])} class(es) it had none of"
    return KnowledgePlan(scratch, status, wrote=scratch)


def _lacking(kb: Any, classes: Sequence[ClassRef], source: str, modality: str) -> list[ClassRef]:
    """The classes with no class description from ``source`` for ``modality`` in ``kb``."""
    refs = [kb.resolve(c) for c in classes]
    have = {d.class_ref.key for d in kb.descriptions(refs, kind="class_description", sources=[source],
                                                     modality=modality)}
    return [c for c, ref in zip(classes, refs) if ref.key not in have]


def _installed(sources: Sequence[str], registry: Any) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    from unibind.knowledge.sources import parse_source_arg

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
    return status, usable


def _build(kb: Any, classes: Sequence[ClassRef], usable: list[tuple[str, Any]], per_class: int, modality: str,
           registry: Any, progress: bool | None) -> dict[str, str]:
    from unibind.knowledge.builder import build_knowledge_base

    report = build_knowledge_base(kb, list(classes), usable, per_class=per_class, modality=modality,
                                  registry=registry, progress=progress)
    return {s.source: f"{s.kept} kept" + (f", {s.failed} failed: {s.errors[0]}" if s.failed else "")
            for s in report.sources}


def _scratch_copy(source: Path, scratch: Path) -> Path:
    """``scratch`` as a copy of ``source`` (kept across runs while ``source`` is unchanged, so they resume)."""
    import sqlite3

    from unibind.atomic import atomic_path
    from unibind.identity import file_digest
    from unibind.sqlite_wal import open_read_only

    digest = file_digest(source)
    if scratch.exists():
        with sqlite3.connect(str(scratch)) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'copied_from_sha256'").fetchone()
        if row and row[0] == digest:
            return scratch
    with atomic_path(scratch) as tmp:
        src, _ = open_read_only(source)  # mode=ro alone would leave -wal/-shm files beside the user's KB
        dst = sqlite3.connect(str(tmp))
        try:
            src.backup(dst)
            dst.execute("INSERT OR REPLACE INTO meta VALUES ('copied_from_sha256', ?)", (digest,))
            dst.commit()
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to rename into place
        finally:
            dst.close()
            src.close()
    return scratch


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
    with KnowledgeBase(kb_path, read_only=True) as kb:
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
