"""What to index: the files of a folder or a JSONL manifest, each with its modality, and embedding them.

Files are embedded through the space's public API (``Space.embed_files``) in
chunks; the index is saved atomically after each chunk, so a killed build is
resumed by ``unibind index add`` without embedding anything twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unibind.errors import InputError, NotRegisteredError
from unibind.results import Failure


@dataclass
class Entry:
    path: str  # absolute: the key of the item in the index
    modality: str


@dataclass
class Outcome:
    """What an add or build did."""

    added: int = 0
    already: int = 0
    failures: list[Failure] = field(default_factory=list)
    by_modality: dict[str, int] = field(default_factory=dict)


def read_sources(sources: list[str | Path], registry: Any, modality: str | None = None
                 ) -> tuple[list[Entry], list[Failure]]:
    """Entries of folders, JSONL manifests (``{"path": ..., "modality": ...}`` a line) and single files."""
    entries: list[Entry] = []
    failures: list[Failure] = []
    for source in map(Path, sources):
        if source.is_dir():
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                try:
                    found = modality or registry.modality_for_path(path).name
                except NotRegisteredError:
                    continue  # a folder holds other files too (descriptions, notes): not gallery items
                entries.append(Entry(str(path.resolve()), found))
        elif source.is_file() and source.suffix.lower() in (".jsonl", ".ndjson"):
            _manifest(source, registry, modality, entries, failures)
        elif source.is_file():
            try:
                entries.append(Entry(str(source.resolve()), modality or registry.modality_for_path(source).name))
            except NotRegisteredError as exc:
                failures.append(Failure(source=str(source), reason=str(exc)))
        else:
            raise InputError(source, "no such folder, manifest or file")
    return entries, failures


def _manifest(path: Path, registry: Any, modality: str | None, entries: list[Entry],
              failures: list[Failure]) -> None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
            item = Path(row["path"])
        except (ValueError, KeyError, TypeError) as exc:
            failures.append(Failure(source=where, reason=f"bad manifest line ({exc.__class__.__name__}: {exc})"))
            continue
        item = item if item.is_absolute() else path.parent / item
        if not item.is_file():
            failures.append(Failure(source=where, reason=f"{item}: no such file"))
            continue
        try:
            found = modality or row.get("modality") or registry.modality_for_path(item).name
        except NotRegisteredError as exc:
            failures.append(Failure(source=where, reason=str(exc)))
            continue
        entries.append(Entry(str(item.resolve()), found))


def index_entries(index: Any, space: Any, entries: list[Entry], *, save_to: str | Path,
                  batch_size: int = 32, progress: bool | None = None,
                  on_chunk: Callable[[int, int], None] | None = None) -> Outcome:
    """Embed and add ``entries`` not yet in ``index``, saving it atomically after every chunk."""
    outcome = Outcome()
    known = index.paths()
    todo: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        if entry.path in known:
            outcome.already += 1
        else:
            todo[entry.modality].append(entry.path)
            known[entry.path] = -1
    step = index.settings.save_every
    for modality, paths in todo.items():
        for start in range(0, len(paths), step):
            chunk = paths[start:start + step]
            try:
                embedded = space.embed_files(chunk, modality, batch_size=batch_size, progress=progress)
            except (InputError, NotRegisteredError) as exc:
                outcome.failures += [Failure(source=p, reason=str(exc)) for p in chunk]
                continue
            outcome.failures.extend(embedded.failures)
            if embedded.sources:
                added = index.add(modality, embedded.vectors.float().numpy(), embedded.sources)
                outcome.added += len(added)
                outcome.by_modality[modality] = outcome.by_modality.get(modality, 0) + len(added)
                index.save(save_to)
            if on_chunk is not None:
                on_chunk(start + len(chunk), len(paths))
    return outcome
