"""The knowledge base: one SQLite file of descriptions with provenance, and build jobs.

SQLite because it gives what a resumable build needs in one file with no
server: transactions (a build commits descriptions and the job progress that
produced them together, so a kill loses at most the uncommitted tail and
never half of it), WAL (readers do not block the writer), and a UNIQUE
constraint on (class, kind, sample, normalised text) so that re-inserting a
description is a no-op (INSERT OR IGNORE) instead of a duplicate.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel

from unibind.errors import InputError
from unibind.knowledge.records import ClassRef, Description, JobState, Kind, Provenance, normalise_text, now
from unibind.secrets import redact, redact_data

if TYPE_CHECKING:
    from typing_extensions import Self

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS classes (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    class_id TEXT
);
CREATE INDEX IF NOT EXISTS classes_name ON classes (name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS descriptions (
    id INTEGER PRIMARY KEY,
    class_key TEXT NOT NULL REFERENCES classes (key),
    kind TEXT NOT NULL CHECK (kind IN ('class_description', 'sample_caption')),
    sample TEXT NOT NULL DEFAULT '',
    sample_path TEXT,
    modality TEXT,
    text TEXT NOT NULL,
    norm TEXT NOT NULL CHECK (norm <> ''),
    plugin TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    model TEXT,
    prompt TEXT,
    seed INTEGER,
    settings_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',
    UNIQUE (class_key, kind, sample, norm)
);
CREATE INDEX IF NOT EXISTS descriptions_source ON descriptions (source);
CREATE TABLE IF NOT EXISTS jobs (
    class_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    sample TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    modality TEXT NOT NULL DEFAULT '',
    seed INTEGER NOT NULL DEFAULT 0,
    settings TEXT NOT NULL DEFAULT '{}',
    requested INTEGER NOT NULL DEFAULT 0,
    cursor INTEGER NOT NULL DEFAULT 0,
    generated INTEGER NOT NULL DEFAULT 0,
    kept INTEGER NOT NULL DEFAULT 0,
    rejected TEXT NOT NULL DEFAULT '{}',
    exhausted INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (class_key, kind, sample, source, settings_hash, modality, seed)
);
"""
# Created by the first build that claims a job, so that opening a knowledge base to read it never writes.
_CLAIMS = ("CREATE TABLE IF NOT EXISTS claims (job TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,"
           " heartbeat REAL NOT NULL)")

#: A claim of another host counts as abandoned after this long without a commit (its pid cannot be checked).
CLAIM_TIMEOUT_S = 600.0

_DESCRIPTION_COLUMNS = ("id, class_key, kind, sample, sample_path, modality, text, plugin, source, model, "
                        "prompt, seed, settings_hash, created_at, meta")
_JOB_KEY = ("class_key", "kind", "sample", "source", "settings_hash", "modality", "seed")


class ClassSummary(BaseModel):
    """A class in the store and how many texts it has."""

    name: str
    class_id: str | None
    key: str
    descriptions: int
    captions: int
    by_source: dict[str, int]

    @property
    def ref(self) -> ClassRef:
        return ClassRef(name=self.name, class_id=self.class_id)


_OPEN_PATIENCE_S = 60.0


class KnowledgeBase:
    """A knowledge-base file. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path, *, create: bool = True, read_only: bool = False):
        """Open (or, with ``create``, make) the file; ``read_only`` opens it so nothing can change it.

        Commands that were only given a knowledge base to read (evaluation,
        training, centres) open it ``read_only``: SQLite then refuses every
        write, so a bug cannot quietly edit the user's data.
        """
        self.path = Path(path)
        self.read_only = read_only
        if (read_only or not create) and not self.path.is_file():
            raise InputError(self.path, "no knowledge base here (build one with `unibind kb build`)")
        self._depth = 0
        self._claims = False  # this connection has claimed jobs (the claims table exists)
        self._stamp: tuple[int, int] | None = None  # the file as an immutable read-only open found it
        if read_only:
            self._open_read_only()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=60)
        # Two processes creating one file at once: switching it to WAL takes a lock that SQLite's busy
        # timeout does not wait for, so "database is locked" here means "try again", not "not a KB".
        deadline = time.monotonic() + _OPEN_PATIENCE_S
        while True:
            try:
                self._prepare()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    self.db.close()
                    raise InputError(self.path, f"not a knowledge base: {exc}") from exc
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                self.db.close()
                raise InputError(self.path, f"not a knowledge base: {exc}") from exc
        self._check_version()

    def _prepare(self) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL (with WAL): a commit survives a killed process; a power cut may undo the last few
        # commits, but never half of one, and since texts and their job progress commit together
        # a rerun simply redoes them. FULL would fsync every commit (tens of ms each).
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        with self.transaction():
            for statement in _statements():  # not executescript: it would commit mid-transaction
                self.db.execute(statement)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _open_read_only(self) -> None:
        from unibind.sqlite_wal import open_read_only

        try:
            # not a plain mode=ro: that leaves -wal/-shm files beside a file the user only gave to read
            self.db, self._stamp = open_read_only(self.path, isolation_level=None, timeout=60)
            self.db.execute("PRAGMA query_only=ON")
            self._check_version()
        except sqlite3.DatabaseError as exc:
            raise InputError(self.path, f"not a knowledge base: {exc}") from exc

    def _check_version(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else -1
        if version != SCHEMA_VERSION:
            raise InputError(self.path, f"knowledge base schema {version}, "
                                        f"this UniBind reads {SCHEMA_VERSION}")

    # -- plumbing -------------------------------------------------------------------------
    def close(self, *, check: bool = True) -> None:
        """Close; with ``check``, a read-only file another process rewrote meanwhile is an error."""
        from unibind.sqlite_wal import changed_since

        self.db.close()
        if check and self.read_only and changed_since(self.path, self._stamp):
            raise InputError(self.path, "changed while this command read it (another process wrote to it), "
                                        "so what was read may be a mix; run the command again")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(check=exc_type is None)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: commits on success, rolls back on any exception (or a kill)."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")   # before counting depth: a BEGIN that failed opened nothing
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    # -- writing ----------------------------------------------------------------------------
    def ensure_class(self, ref: ClassRef) -> str:
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO classes (key, name, class_id) VALUES (?, ?, ?)",
                            (ref.key, ref.name, ref.class_id))
        return ref.key

    def add(self, description: Description) -> int | None:
        """Store one description; returns its id, or None when the class already has that text."""
        d = Description.model_validate(description.model_dump())
        p = d.provenance
        with self.transaction():
            key = self.ensure_class(d.class_ref)
            cur = self.db.execute(
                "INSERT OR IGNORE INTO descriptions (class_key, kind, sample, sample_path, modality, text,"
                " norm, plugin, source, model, prompt, seed, settings_hash, created_at, meta)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, d.kind, d.sample or "", d.sample_path, d.modality, d.text, normalise_text(d.text),
                 p.plugin, p.source, redact(p.model), redact(p.prompt), p.seed, p.settings_hash, p.created_at,
                 json.dumps(redact_data(d.meta), sort_keys=True)),
            )
        return cur.lastrowid if cur.rowcount == 1 else None

    def add_many(self, descriptions: Iterable[Description]) -> tuple[int, int]:
        """Store many in one transaction; returns (kept, duplicates)."""
        kept = dup = 0
        with self.transaction():
            for d in descriptions:
                if self.add(d) is None:
                    dup += 1
                else:
                    kept += 1
        return kept, dup

    def import_jsonl(self, lines: Iterable[str]) -> tuple[int, int]:
        """Merge an export (one JSON record per line) into this store."""
        return self.add_many(Description.model_validate_json(line) for line in lines if line.strip())

    # -- reading ------------------------------------------------------------------------------
    def find_classes(self, query: str) -> list[ClassRef]:
        """Classes whose key, WordNet id or name (case-insensitive) is ``query``."""
        rows = self.db.execute(
            "SELECT name, class_id FROM classes WHERE key = ? OR class_id = ? OR name = ? COLLATE NOCASE"
            " ORDER BY key", (query.strip(), query.strip(), " ".join(query.split()))).fetchall()
        return [ClassRef(name=n, class_id=i) for n, i in rows]

    def resolve(self, ref: ClassRef) -> ClassRef:
        """The stored class ``ref`` means: same key, else the one class with that name or id."""
        row = self.db.execute("SELECT name, class_id FROM classes WHERE key = ?", (ref.key,)).fetchone()
        if row is not None:
            return ClassRef(name=row[0], class_id=row[1])
        matches = self.find_classes(ref.class_id or ref.name)
        if len(matches) > 1:
            raise InputError(self.path, f"class {ref.name!r} is ambiguous here: "
                             f"{', '.join(f'{m.name} ({m.class_id})' for m in matches)}; give its WordNet id")
        return matches[0] if matches else ref

    def descriptions(self, classes: Sequence[ClassRef] | None = None, *, kind: Kind | None = None,
                     sources: Sequence[str] | None = None, modality: str | None = None) -> list[Description]:
        """Stored records in insertion order, filtered.

        ``modality`` keeps the texts that speak of it or of no modality in particular.
        """
        where, args = _filters(classes, kind, sources, modality)
        rows = self.db.execute(
            f"SELECT {_DESCRIPTION_COLUMNS}, c.name, c.class_id FROM descriptions d"
            f" JOIN classes c ON c.key = d.class_key{where} ORDER BY d.id", args)
        return [_row_to_description(row) for row in rows]

    def count(self, classes: Sequence[ClassRef] | None = None, *, kind: Kind | None = None,
              sources: Sequence[str] | None = None, modality: str | None = None) -> int:
        where, args = _filters(classes, kind, sources, modality)
        return self.db.execute(f"SELECT COUNT(*) FROM descriptions d{where}", args).fetchone()[0]

    def classes(self) -> list[ClassSummary]:
        rows = self.db.execute(
            "SELECT c.key, c.name, c.class_id, d.kind, d.source, COUNT(d.id) FROM classes c"
            " LEFT JOIN descriptions d ON d.class_key = c.key GROUP BY c.key, d.kind, d.source"
            " ORDER BY c.name, c.key").fetchall()
        out: dict[str, ClassSummary] = {}
        for key, name, class_id, kind, source, n in rows:
            summary = out.setdefault(key, ClassSummary(name=name, class_id=class_id, key=key, descriptions=0,
                                                       captions=0, by_source={}))
            if kind == "class_description":
                summary.descriptions += n
            elif kind == "sample_caption":
                summary.captions += n
            if source:
                summary.by_source[source] = summary.by_source.get(source, 0) + n
        return list(out.values())

    def stats(self) -> dict[str, Any]:
        """Totals for ``unibind kb stats``."""
        db = self.db
        per_source = {}
        for source, plugin, model, kind, n, classes in db.execute(
                "SELECT source, plugin, COALESCE(model, ''), kind, COUNT(*), COUNT(DISTINCT class_key)"
                " FROM descriptions GROUP BY source, plugin, model, kind ORDER BY source, model, kind"):
            per_source.setdefault(source, []).append(
                {"plugin": plugin, "model": model, "kind": kind, "texts": n, "classes": classes})
        counts = [s.descriptions for s in self.classes()]
        rejected: Counter[str] = Counter()
        jobs = {"total": 0, "finished": 0, "failed": 0}
        for requested, kept, exhausted, error, rej in db.execute(
                "SELECT requested, kept, exhausted, error, rejected FROM jobs"):
            jobs["total"] += 1
            jobs["finished"] += int(kept >= requested or bool(exhausted))
            jobs["failed"] += int(error is not None)
            rejected.update(json.loads(rej))
        return {
            "path": str(self.path),
            "classes": len(counts),
            "descriptions": db.execute("SELECT COUNT(*) FROM descriptions WHERE kind='class_description'")
            .fetchone()[0],
            "captions": db.execute("SELECT COUNT(*) FROM descriptions WHERE kind='sample_caption'")
            .fetchone()[0],
            "per_class": {"min": min(counts, default=0), "max": max(counts, default=0),
                          "mean": sum(counts) / len(counts) if counts else 0.0},
            "sources": per_source,
            "jobs": jobs,
            "rejected": dict(rejected.most_common()),
        }

    def export_jsonl(self, out: IO[str], classes: Sequence[ClassRef] | None = None,
                     kind: Kind | None = None, sources: Sequence[str] | None = None) -> int:
        """Write one validated :class:`Description` per line; returns how many."""
        n = 0
        for d in self.descriptions(classes, kind=kind, sources=sources):
            out.write(d.model_dump_json() + "\n")
            n += 1
        return n

    # -- build jobs ------------------------------------------------------------------------------
    def job(self, key: dict[str, Any]) -> JobState | None:
        row = self.db.execute(
            "SELECT class_key, kind, sample, source, settings_hash, modality, seed, requested, cursor,"
            " generated, kept, rejected, exhausted, error, updated_at FROM jobs WHERE "
            + " AND ".join(f"{k} = ?" for k in _JOB_KEY), [key[k] for k in _JOB_KEY]).fetchone()
        if row is None:
            return None
        names = ("class_key", "kind", "sample", "source", "settings_hash", "modality", "seed", "requested",
                 "cursor", "generated", "kept", "rejected", "exhausted", "error", "updated_at")
        data = dict(zip(names, row))
        data["rejected"] = json.loads(data["rejected"])
        return JobState.model_validate(data)

    def save_job(self, job: JobState, settings: dict[str, Any] | None = None) -> None:
        """Insert or update a job's progress (call inside the transaction that stored its texts)."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO jobs (class_key, kind, sample, source, settings_hash, modality, seed, settings,"
                " requested, cursor, generated, kept, rejected, exhausted, error, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (class_key, kind, sample, source, settings_hash, modality, seed) DO UPDATE SET"
                " requested=excluded.requested, cursor=excluded.cursor, generated=excluded.generated,"
                " kept=excluded.kept, rejected=excluded.rejected, exhausted=excluded.exhausted,"
                " error=excluded.error, updated_at=excluded.updated_at",
                (job.class_key, job.kind, job.sample, job.source, job.settings_hash, job.modality, job.seed,
                 json.dumps(redact_data(settings or {}), sort_keys=True, default=str), job.requested, job.cursor,
                 job.generated, job.kept, json.dumps(job.rejected, sort_keys=True), int(job.exhausted),
                 redact(job.error), now()))
            if self._claims:
                self.db.execute("UPDATE claims SET heartbeat = ? WHERE job = ?", (time.time(), _claim_name(
                    job.model_dump(mode="json", include=set(_JOB_KEY)))))

    def claim_job(self, key: dict[str, Any]) -> str | None:
        """Take a job for this process, so that concurrent builds never work on one job twice.

        Returns None when claimed (or already ours), else who holds it. A
        claim whose process is gone (same host, pid not alive; another host:
        no commit for :data:`CLAIM_TIMEOUT_S`) is taken over.
        """
        from unibind.atomic import _alive, _host

        job, host, pid = _claim_name(key), _host(), os.getpid()
        with self.transaction():
            self.db.execute(_CLAIMS)
            self._claims = True
            row = self.db.execute("SELECT host, pid, heartbeat FROM claims WHERE job = ?", (job,)).fetchone()
            if row is not None and (row[0], row[1]) != (host, pid):
                alive = _alive(row[1]) if row[0] == host else time.time() - row[2] < CLAIM_TIMEOUT_S
                if alive:
                    return f"pid {row[1]} on {row[0]}"
            self.db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)", (job, host, pid, time.time()))
        return None

    def release_job(self, key: dict[str, Any]) -> None:
        from unibind.atomic import _host

        with self.transaction():
            self.db.execute("DELETE FROM claims WHERE job = ? AND host = ? AND pid = ?",
                            (_claim_name(key), _host(), os.getpid()))

    def jobs(self, source: str | None = None) -> list[JobState]:
        where, args = (" WHERE source = ?", [source]) if source else ("", [])
        keys = self.db.execute(f"SELECT {', '.join(_JOB_KEY)} FROM jobs{where} ORDER BY rowid",
                               args).fetchall()
        return [self.job(dict(zip(_JOB_KEY, k))) for k in keys]  # type: ignore[misc]


def _claim_name(key: dict[str, Any]) -> str:
    return json.dumps([key[k] for k in _JOB_KEY])


def _statements() -> list[str]:
    return [s.strip() for s in _SCHEMA.split(";") if s.strip()]


def _filters(classes: Sequence[ClassRef] | None, kind: str | None, sources: Sequence[str] | None,
             modality: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if classes is not None:
        keys = [c.key for c in classes]
        clauses.append(f"d.class_key IN ({', '.join('?' * len(keys))})" if keys else "0")
        args += keys
    if kind is not None:
        clauses.append("d.kind = ?")
        args.append(kind)
    if sources:
        clauses.append(f"d.source IN ({', '.join('?' * len(sources))})")
        args += list(sources)
    if modality is not None:
        clauses.append("(d.modality IS NULL OR d.modality = ?)")
        args.append(modality)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _row_to_description(row: tuple) -> Description:
    (id_, _key, kind, sample, sample_path, modality, text, plugin, source, model, prompt, seed, shash,
     created, meta, name, class_id) = row
    return Description.model_validate({
        "id": id_, "class_name": name, "class_id": class_id, "kind": kind, "text": text, "modality": modality,
        "sample": sample or None, "sample_path": sample_path, "meta": json.loads(meta),
        "provenance": Provenance(plugin=plugin, source=source, model=model, prompt=prompt, seed=seed,
                                 settings_hash=shash, created_at=created),
    })
