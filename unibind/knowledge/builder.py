"""Building the knowledge base: run description sources over classes, resumably.

One job is one class x source x settings hash x modality x seed. A job pulls
items from the source, decides for each whether it is kept (new normalised
text for the class) or rejected (the source's reason, or ``duplicate``),
and commits the kept texts together with the job's counters and resume
cursor, every ``commit_every`` items or ``commit_seconds``, in one
transaction. Killed at any moment, the store holds exactly the committed
prefix of each job; a rerun skips finished jobs and resumes the others at
their cursor, so the final store equals an uninterrupted build's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from unibind.knowledge.records import (
    ClassRef,
    Description,
    DescriptionDraft,
    JobState,
    Provenance,
    Rejected,
    SampleRef,
    normalise_text,
    settings_hash,
)
from unibind.knowledge.store import KnowledgeBase
from unibind.progress import track

DUPLICATE = "duplicate"
INVALID = "invalid"


class SourceSummary(BaseModel):
    """What one source did in a build: the per-source summary table."""

    source: str
    plugin: str = ""
    model: str = ""
    settings_hash: str
    jobs: int = 0
    skipped: int = Field(default=0, description="Jobs already finished by an earlier run.")
    failed: int = 0
    generated: int = Field(default=0, description="Items the source yielded (this run and resumed ones).")
    kept: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    empty: list[str] = Field(default_factory=list,
                             description="Classes asked for that got no kept text from this source.")

    def add(self, job: JobState, name: str | None = None) -> None:
        self.generated += job.generated
        self.kept += job.kept
        merged = Counter(self.rejected)
        merged.update(job.rejected)
        self.rejected = dict(merged.most_common())
        if name is not None and job.kept == 0 and not job.error:
            self.empty.append(name)


class BuildReport(BaseModel):
    sources: list[SourceSummary]

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.sources)


@dataclass
class _Source:
    """A source as configured for this build; the object itself is built on first need."""

    spec: Any
    settings: BaseModel | None
    hash: str
    _built: Any = None
    _error: Exception | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def get(self) -> Any:
        """The source object; a failure to build it is remembered, not retried for every class."""
        if self._error is not None:
            raise self._error
        if self._built is None:
            try:
                self._built = self.spec.build(self.settings)
            except Exception as exc:
                self._error = exc
                raise
        return self._built


def resolve_sources(sources: Sequence[tuple[str, dict[str, Any] | None]], registry: Any = None,
                    produces: str = "class_descriptions") -> list[_Source]:
    """Look the sources up and validate their settings before any work starts."""
    if registry is None:
        from unibind.plugins import get_registry

        registry = get_registry()
    out = []
    for name, values in sources:
        spec = registry.get("description_source", name)
        if produces not in spec.produces:
            raise ValueError(f"description source {name!r} does not produce {produces} "
                             f"(it produces {', '.join(spec.produces)})")
        settings = spec.make_settings(values)
        out.append(_Source(spec, settings, settings_hash(name, settings)))
    return out


@dataclass
class _Job:
    """One job's in-memory progress and the texts waiting for the next commit."""

    kb: KnowledgeBase
    state: JobState
    provenance: dict[str, Any]
    ref: ClassRef
    pending: list[Description] = field(default_factory=list)
    norms: set[str] = field(default_factory=set)

    def take(self, item: Any, sample: SampleRef | None = None) -> None:
        s = self.state
        if not isinstance(item, (DescriptionDraft, Rejected)):
            raise TypeError(f"source yielded a {type(item).__name__}, not a DescriptionDraft or Rejected")
        s.cursor += 1
        s.generated += 1
        if isinstance(item, Rejected):
            s.rejected[item.reason] = s.rejected.get(item.reason, 0) + 1
            return
        try:
            record = Description(
                class_name=self.ref.name, class_id=self.ref.class_id, kind=s.kind, text=item.text,
                # a draft that speaks of no modality (WordNet, a class description) serves every modality:
                # tagging it with the job's would hide it from the others and reject it there as a duplicate
                modality=item.modality or None, meta=item.meta,
                sample=sample.sha256 if sample else item.sample, sample_path=sample.path if sample else None,
                provenance=Provenance(**{**self.provenance, "model": item.model or self.provenance["model"],
                                         "prompt": item.prompt or self.provenance["prompt"]}),
            )
        except ValidationError:
            s.rejected[INVALID] = s.rejected.get(INVALID, 0) + 1
            return
        norm = normalise_text(record.text)
        if norm in self.norms or self._stored(norm):
            s.rejected[DUPLICATE] = s.rejected.get(DUPLICATE, 0) + 1
            return
        self.norms.add(norm)
        self.pending.append(record)
        s.kept += 1

    def _stored(self, norm: str) -> bool:
        return self.kb.db.execute(
            "SELECT 1 FROM descriptions WHERE class_key = ? AND kind = ? AND sample = ? AND norm = ?",
            (self.ref.key, self.state.kind, self.state.sample, norm)).fetchone() is not None

    def flush(self, settings: dict[str, Any]) -> None:
        """Commit the pending texts and the counters that produced them, together."""
        with self.kb.transaction():
            for record in self.pending:
                if self.kb.add(record) is None:  # another writer stored it meanwhile
                    self.state.kept -= 1
                    self.state.rejected[DUPLICATE] = self.state.rejected.get(DUPLICATE, 0) + 1
            self.kb.save_job(self.state, settings)
        self.pending.clear()


def build_knowledge_base(
    kb: KnowledgeBase,
    classes: Sequence[ClassRef],
    sources: Sequence[tuple[str, dict[str, Any] | None]],
    *,
    per_class: int,
    modality: str | None = None,
    seed: int = 0,
    commit_every: int = 32,
    commit_seconds: float = 5.0,
    registry: Any = None,
    progress: bool | None = None,
    on_job: Callable[[str, ClassRef, JobState], None] | None = None,
) -> BuildReport:
    """Ask every source for ``per_class`` kept descriptions of every class; resumable.

    Sources run one after another (one model loaded at a time), each over
    all classes. A source that raises on a class has the error recorded on
    that job and reported; the other jobs finish, and a rerun retries it.
    """
    if per_class < 1:
        raise ValueError("per_class must be at least 1")
    runs = resolve_sources(sources, registry)
    summaries = []
    for run in runs:
        summary = SourceSummary(source=run.name, plugin=run.spec.plugin, settings_hash=run.hash)
        summaries.append(summary)
        settings_json = run.settings.model_dump(mode="json") if run.settings is not None else {}
        for ref in track(classes, description=f"{run.name}", enabled=progress):
            ref = kb.resolve(ref)  # "trouser" joins a stored "Trouser": one class, whatever the case
            key = {"class_key": ref.key, "kind": "class_description", "sample": "", "source": run.name,
                   "settings_hash": run.hash, "modality": modality or "", "seed": seed}
            summary.jobs += 1
            holder = kb.claim_job(key)  # a concurrent build of the same job would overshoot per_class
            if holder is not None:
                summary.failed += 1
                summary.errors.append(f"{ref.name}: being built by another `kb build` ({holder}) into this "
                                      "knowledge base; not touched (rerun once it has finished)")
                continue
            try:
                _run_job(kb, run, ref, key, summary, per_class=per_class, modality=modality, seed=seed,
                         commit_every=commit_every, commit_seconds=commit_seconds, settings_json=settings_json,
                         on_job=on_job)
            finally:
                kb.release_job(key)
    return BuildReport(sources=summaries)


def _run_job(kb: KnowledgeBase, run: _Source, ref: ClassRef, key: dict[str, Any], summary: SourceSummary, *,
             per_class: int, modality: str | None, seed: int, commit_every: int, commit_seconds: float,
             settings_json: dict[str, Any], on_job: Callable[[str, ClassRef, JobState], None] | None) -> None:
    """One claimed job: read its state (after the claim, so a finished job is seen) and drain the source."""
    state = kb.job(key) or JobState(**key)
    if state.finished(per_class) and state.error is None:
        summary.skipped += 1
        summary.add(state, ref.name)
        return
    try:
        source = run.get()
    except Exception as exc:  # noqa: BLE001 - e.g. its model is missing: the other sources go on
        summary.failed += 1
        summary.errors.append(f"{ref.name}: cannot build the source: {type(exc).__name__}: {exc}")
        return
    kb.ensure_class(ref)
    summary.model = summary.model or getattr(source, "model", "") or ""
    state.requested, state.error = per_class, None
    job = _Job(kb, state, _provenance(run, source, seed), ref)
    stream = _items(source.describe, ref, per_class - state.kept, modality=modality, seed=seed, start=state.cursor)
    _drain(job, stream, per_class, commit_every, commit_seconds, settings_json)
    if state.error:
        summary.failed += 1
        summary.errors.append(f"{ref.name}: {state.error}")
    summary.add(state, ref.name)
    if on_job is not None:
        on_job(run.name, ref, state)


def build_captions(
    kb: KnowledgeBase,
    samples: Sequence[SampleRef],
    source: tuple[str, dict[str, Any] | None],
    *,
    per_sample: int = 1,
    seed: int = 0,
    batch_size: int = 8,
    registry: Any = None,
    progress: bool | None = None,
) -> BuildReport:
    """Caption labelled samples with one captioner; each batch commits with its jobs (resumable).

    Each batch claims its samples' jobs first, as ``kb build`` claims classes: a second ``kb caption``
    into the same knowledge base skips (and reports) the samples the first is captioning, instead of
    storing their captions twice.
    """
    (run,) = resolve_sources([source], registry, produces="sample_captions")
    summary = SourceSummary(source=run.name, plugin=run.spec.plugin, settings_hash=run.hash)
    settings_json = run.settings.model_dump(mode="json") if run.settings is not None else {}
    todo: list[tuple[SampleRef, dict[str, Any]]] = []
    for sample in samples:
        if sample.label is None:
            raise ValueError(f"{sample.path}: captions are stored under a class; give the sample a label")
        key = {"class_key": sample.label.key, "kind": "sample_caption", "sample": sample.sha256,
               "source": run.name, "settings_hash": run.hash, "modality": sample.modality, "seed": seed}
        state = kb.job(key) or JobState(**key)
        summary.jobs += 1
        if state.finished(per_sample) and state.error is None:
            summary.skipped += 1
            summary.add(state)
        else:
            todo.append((sample, key))
    batches = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
    for batch in track(batches, description=f"{run.name}", enabled=progress):
        claimed = _claim_captions(kb, batch, per_sample, summary)
        try:
            if claimed:
                _caption_batch(kb, run, claimed, per_sample, seed, settings_json, summary)
        finally:
            for _, key, _ in claimed:
                kb.release_job(key)
    return BuildReport(sources=[summary])


def _claim_captions(kb: KnowledgeBase, batch: list[tuple[SampleRef, dict[str, Any]]], per_sample: int,
                    summary: SourceSummary) -> list[tuple[SampleRef, dict[str, Any], JobState]]:
    """The batch's jobs this process holds now, each read after its claim (so one finished meanwhile is seen)."""
    claimed = []
    for sample, key in batch:
        holder = kb.claim_job(key)
        if holder is not None:
            summary.failed += 1
            summary.errors.append(f"{sample.path}: being captioned by another `kb caption` ({holder}) into this "
                                  "knowledge base; not touched (rerun once it has finished)")
            continue
        state = kb.job(key) or JobState(**key)
        if state.finished(per_sample) and state.error is None:
            kb.release_job(key)
            summary.skipped += 1
            summary.add(state)
            continue
        claimed.append((sample, key, state))
    return claimed


def _caption_batch(kb: KnowledgeBase, run: _Source, batch: list[tuple[SampleRef, dict[str, Any], JobState]],
                   per_sample: int, seed: int, settings_json: dict[str, Any], summary: SourceSummary) -> None:
    """Caption one claimed batch, committed with its jobs; an error drops the batch's captions (a rerun redoes it)."""
    captioner = run.get()
    summary.model = summary.model or getattr(captioner, "model", "") or ""
    jobs = []
    for sample, _, state in batch:
        kb.ensure_class(sample.label)  # type: ignore[arg-type]
        state.requested, state.error = per_sample, None
        state.cursor = state.generated = state.kept = 0
        state.rejected = {}
        label: ClassRef = sample.label  # type: ignore[assignment]
        jobs.append(_Job(kb, state, _provenance(run, captioner, seed), label))
    error = None
    try:
        for index, item in captioner.caption([s for s, _, _ in batch], n=per_sample, seed=seed):
            jobs[index].take(item, batch[index][0])
    except Exception as exc:  # noqa: BLE001 - recorded on the jobs, the rest of the run goes on
        error = f"{type(exc).__name__}: {exc}"
    with kb.transaction():
        for job in jobs:
            if error:  # the batch's captions are dropped; a rerun captions it again
                job.pending.clear()
                job.state.cursor = job.state.generated = job.state.kept = 0
                job.state.rejected = {}
                job.state.error = error
            else:
                job.state.exhausted = True
            job.flush(settings_json)
    for job in jobs:
        summary.add(job.state)
    if error:
        summary.failed += len(jobs)
        summary.errors.append(error)


def _provenance(run: _Source, source: Any, seed: int) -> dict[str, Any]:
    return {"plugin": run.spec.plugin, "source": run.name, "model": getattr(source, "model", "") or None,
            "prompt": getattr(source, "prompt", "") or None, "seed": seed, "settings_hash": run.hash}


_END = object()


def _items(describe: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
    """The source's stream; an exception from the source comes out as one item (not raised)."""
    try:
        stream = iter(describe(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001
        yield _Failure(exc)
        return
    while True:
        try:
            item = next(stream, _END)
        except Exception as exc:  # noqa: BLE001
            yield _Failure(exc)
            return
        if item is _END:
            return
        yield item


@dataclass
class _Failure:
    exc: Exception


def _drain(job: _Job, stream: Iterator[Any], per_class: int, commit_every: int, commit_seconds: float,
           settings: dict[str, Any]) -> None:
    state = job.state
    since, last = 0, time.monotonic()
    exhausted = True
    for item in stream:
        if isinstance(item, _Failure):
            state.error = f"{type(item.exc).__name__}: {item.exc}"
            exhausted = False
            break
        try:
            job.take(item)
        except TypeError as exc:
            state.error = str(exc)
            exhausted = False
            break
        since += 1
        if state.kept >= per_class:
            exhausted = False
            break
        if since >= commit_every or time.monotonic() - last >= commit_seconds:
            job.flush(settings)
            since, last = 0, time.monotonic()
    state.exhausted = exhausted
    job.flush(settings)
