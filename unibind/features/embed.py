"""``unibind embed`` through the feature cache, in one process or sharded across ``torchrun`` ranks.

Inputs (files, and the members of WebDataset ``.tar`` shards, in the order
given) are numbered; rank ``r`` of ``w`` takes items ``r, r + w, ...``, which
every rank computes alike without talking. Each rank encodes what the shared
feature cache lacks and commits it shard by shard, so a rank killed midway
loses at most its unflushed rows and a rerun encodes only those. Then the
ranks exchange (item, content key) lists and rank 0 reads every row from the
cache, applies the adapter and returns the merged embeddings in input order
(it alone writes the output).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unibind.errors import InputError
from unibind.features.cache import FeatureCache
from unibind.features.extract import FrozenEncoder, extract_features
from unibind.features.keys import bytes_key
from unibind.features.webdataset import is_shard, iter_members
from unibind.results import Failure

#: Rows per committed cache shard, in batches: a killed rank recomputes at most this many batches.
SHARD_BATCHES = 4
#: Tar members spooled to scratch files per extraction round (bounded disk use while streaming).
SPOOL = 256
#: Rows read from the cache and adapted at a time by rank 0 (bounded memory for the merge).
MERGE_ROWS = 4096


@dataclass
class ShardedEmbeddings:
    """Rank 0's merged result (other ranks: empty), and what the run cost over all ranks."""

    vectors: torch.Tensor
    sources: list[str]
    modality: str
    failures: list[Failure] = field(default_factory=list)
    encoded: int = 0      # items that went through the encoder, all ranks
    from_cache: int = 0   # items read from the cache, all ranks
    cache_dir: Path | None = None
    warnings: list[Failure] = field(default_factory=list)  # embedded, but doubtful (this rank's items)


def _items(inputs: Sequence[str | Path], suffixes: Sequence[str]) -> Iterator[tuple[str, Any]]:
    """(source, file path or tar member) in input order; a damaged tar yields its error as the item."""
    for path in inputs:
        if not is_shard(path):
            yield str(path), Path(path)
            continue
        try:
            for member in iter_members(path, suffixes):
                yield member.source, member
        except InputError as exc:
            yield str(path), exc


def embed_inputs(space: Any, inputs: Sequence[str | Path], modality: str, *, ctx: Any = None,
                 cache_root: str | Path | None = None, batch_size: int = 32, workers: int = 0,
                 progress: bool | None = None) -> ShardedEmbeddings:
    """Embed files and WebDataset shards of ``modality``; under torchrun each rank does its share."""
    from unibind.training.distributed import DistContext

    ctx = ctx or DistContext()
    frozen = FrozenEncoder.from_space(space, modality)
    cache = FeatureCache(cache_root, frozen.cache_identity, shard_rows=batch_size * SHARD_BATCHES)
    suffixes = tuple(space.registry.get("modality", modality).suffixes)
    done: list[tuple[int, str, str]] = []      # (item number, source, content key)
    failures: list[tuple[int, Failure]] = []
    noted: list[Failure] = []
    encoded = 0
    with tempfile.TemporaryDirectory(prefix="unibind-embed-") as scratch:
        files: list[tuple[int, str, Path]] = []
        spooled: list[tuple[int, str, Path, str]] = []

        def run_files() -> None:
            nonlocal encoded
            if not files:
                return
            out = extract_features(list(dict.fromkeys(p for _, _, p in files)), frozen, cache,
                                   batch_size=batch_size, workers=workers, progress=progress, rows=False)
            encoded += out.encoded
            noted.extend(out.warnings)
            _collect(out, [(n, s, str(p)) for n, s, p in files], done, failures)
            files.clear()

        def run_spool() -> None:
            nonlocal encoded
            if not spooled:
                return
            out = extract_features([p for _, _, p, _ in spooled], frozen, cache, batch_size=batch_size,
                                   keys=[k for *_, k in spooled], progress=progress, rows=False)
            encoded += out.encoded
            noted.extend(out.warnings)
            _collect(out, [(n, s, str(p)) for n, s, p, _ in spooled], done, failures)
            for _, _, path, _ in spooled:
                path.unlink(missing_ok=True)
            spooled.clear()

        for n, (source, item) in enumerate(_items(inputs, suffixes)):
            if n % ctx.world != ctx.rank:
                continue
            if isinstance(item, InputError):
                failures.append((n, Failure(source=source, reason=item.problem)))
            elif isinstance(item, Path):
                files.append((n, source, item))
            else:
                key = bytes_key(item.data)
                if key in cache:
                    done.append((n, source, key))
                    continue
                path = Path(scratch) / f"{n:012d}.{item.ext}"
                path.write_bytes(item.data)
                spooled.append((n, source, path, key))
                if len(spooled) >= SPOOL:
                    run_spool()
        run_files()
        run_spool()
    merged = _merge(ctx, space, modality, cache, done, failures, encoded)
    merged.warnings = noted
    return merged


def _collect(out: Any, items: list[tuple[int, str, str]], done: list[tuple[int, str, str]],
             failures: list[tuple[int, Failure]]) -> None:
    """Map extraction results (by path) back to item numbers and sources; a path given twice counts twice."""
    key = dict(zip(out.sources, out.hashes))
    reason = {f.source: f.reason for f in out.failures}
    for n, source, path in items:
        if path in key:
            done.append((n, source, key[path]))
        else:
            failures.append((n, Failure(source=source, reason=reason.get(path, "not encoded"))))


def _merge(ctx: Any, space: Any, modality: str, cache: FeatureCache, done: list[tuple[int, str, str]],
           failures: list[tuple[int, Failure]], encoded: int) -> ShardedEmbeddings:
    parts = [(done, failures, encoded)]
    if ctx.active:
        import torch.distributed as dist

        parts = [None] * ctx.world  # type: ignore[list-item]
        dist.all_gather_object(parts, (done, failures, encoded))
    total = sum(p[2] for p in parts)
    rows = sorted(r for p in parts for r in p[0])
    failed = [f for _, f in sorted((f for p in parts for f in p[1]), key=lambda nf: nf[0])]
    if not ctx.main:
        return ShardedEmbeddings(torch.empty(0, 0), [], modality, failed, total, len(rows) - total, cache.dir)
    chunks = []
    for start in range(0, len(rows), MERGE_ROWS):
        features = torch.from_numpy(cache.rows([k for _, _, k in rows[start:start + MERGE_ROWS]]))
        chunks.append(space.embed_features(modality, features))
    vectors = torch.cat(chunks) if chunks else torch.empty(0, space.dim)
    return ShardedEmbeddings(vectors, [s for _, s, _ in rows], modality, failed, total,
                             len(rows) - total, cache.dir)
