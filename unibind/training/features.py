"""Frozen-encoder features cached on disk, so encoders run once per sample, not once per epoch.

A cache directory holds one sub-directory per *encoder identity*: the
modality, its loader settings, the encoder's registered name, class,
validated settings (preprocessing included), model source and a fingerprint
of its files, output dimension and this format's version. Change any of
those and the identity hash changes, so stale features are never served.
Inside, features are keyed by the SHA-256 of each file's content (a renamed
file is not re-encoded; an edited one is) and stored in shards:

* ``shard-000007.npy``: float32 ``[n, dim]``, memory-mapped when read;
* ``shard-000007.json``: the content hashes and source paths of its rows.

Each file is written atomically, the ``.npy`` before the ``.json``, and a
shard counts only once its ``.json`` exists: a killed extraction loses at
most the rows not yet flushed, and a rerun encodes only what is missing.
A hash already present is never written again, so nothing is duplicated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unibind.atomic import atomic_open, atomic_path
from unibind.batching import prepared_batches
from unibind.errors import InputError
from unibind.identity import identity_hash, portable, source_identity
from unibind.progress import track
from unibind.results import Failure

FORMAT_VERSION = 1
#: Rows per shard: a kill loses at most this many freshly encoded samples.
DEFAULT_SHARD_ROWS = 512


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FrozenEncoder:
    """A modality's loader and frozen encoder, and what identifies the features they make."""

    modality: str
    loader: Any
    encoder: Any
    encoder_name: str
    identity: dict[str, Any]

    @classmethod
    def from_registry(cls, modality: str, encoder: str | None = None, *, registry: Any = None,
                      settings: dict[str, dict[str, Any]] | None = None) -> FrozenEncoder:
        """Build ``modality``'s loader and encoder (``encoder`` by name, else the default).

        ``settings`` maps component names (the modality's, the encoder's) to
        their settings, as for :class:`~unibind.space.Space`.
        """
        if registry is None:
            from unibind.plugins import get_registry

            registry = get_registry()
        settings = settings or {}
        mod_spec = registry.get("modality", modality)
        enc_spec = registry.get("encoder", encoder) if encoder else registry.default("encoder", modality)
        if getattr(enc_spec, "modality", modality) != modality:
            raise InputError(enc_spec.name, f"encodes {enc_spec.modality!r}, not {modality!r}")
        loader = mod_spec.build(settings.get(modality))
        model = enc_spec.build(settings.get(enc_spec.name))
        freeze = getattr(model, "freeze", None)
        if callable(freeze):
            freeze()
        loader_settings = mod_spec.make_settings(settings.get(modality))
        enc_settings = enc_spec.make_settings(settings.get(enc_spec.name))
        source = getattr(model, "source", None)
        identity = {
            "format": FORMAT_VERSION,
            "modality": modality,
            "loader_settings": portable(loader_settings.model_dump(mode="json")) if loader_settings is not None else None,
            "encoder": enc_spec.name,
            "encoder_class": f"{type(model).__module__}.{type(model).__qualname__}",
            "encoder_settings": portable(enc_settings.model_dump(mode="json")) if enc_settings is not None else None,
            **source_identity(source),
            "dim": int(model.dim),
        }
        return cls(modality, loader, model, enc_spec.name, identity)

    @property
    def dim(self) -> int:
        return int(self.encoder.dim)


class FeatureCache:
    """Shards of features of one encoder identity under ``root/<identity hash>/``."""

    def __init__(self, root: str | Path, identity: dict[str, Any], *, shard_rows: int = DEFAULT_SHARD_ROWS):
        self.identity = identity
        self.hash = identity_hash(identity)
        self.dir = Path(root) / self.hash
        self.dim = int(identity["dim"])
        self.shard_rows = shard_rows
        self.dir.mkdir(parents=True, exist_ok=True)
        marker = self.dir / "identity.json"
        if not marker.is_file():
            with atomic_open(marker) as fh:
                json.dump(identity, fh, indent=1, sort_keys=True, default=str)
        self._index: dict[str, tuple[int, int]] = {}
        self._maps: dict[int, np.ndarray] = {}
        self._pending: list[tuple[str, str, np.ndarray]] = []
        self.reload()

    # -- reading -------------------------------------------------------------------------------
    def reload(self) -> None:
        """Index every complete shard (one whose .json exists); others are ignored."""
        self._index.clear()
        self._maps.clear()
        for meta_path in sorted(self.dir.glob("shard-*.json")):
            number = int(meta_path.stem.split("-")[1])
            try:
                hashes = json.loads(meta_path.read_text())["hashes"]
            except (ValueError, KeyError) as exc:
                raise InputError(meta_path, f"damaged feature-cache shard index: {exc}") from exc
            for row, h in enumerate(hashes):
                self._index.setdefault(h, (number, row))

    def __contains__(self, content_hash: str) -> bool:
        return content_hash in self._index

    def __len__(self) -> int:
        return len(self._index)

    def _shard(self, number: int) -> np.ndarray:
        if number not in self._maps:
            path = self.dir / f"shard-{number:06d}.npy"
            array = np.load(path, mmap_mode="r")
            if array.ndim != 2 or array.shape[1] != self.dim:
                raise InputError(path, f"shard is {array.shape}, expected [n, {self.dim}]")
            self._maps[number] = array
        return self._maps[number]

    def rows(self, hashes: Sequence[str]) -> np.ndarray:
        """Features ``[len(hashes), dim]`` of cached content hashes, read from the memory maps."""
        out = np.empty((len(hashes), self.dim), dtype=np.float32)
        missing = [h for h in hashes if h not in self._index]
        if missing:
            raise KeyError(f"{len(missing)} content hash(es) not in the feature cache {self.dir}")
        for i, h in enumerate(hashes):
            number, row = self._index[h]
            out[i] = self._shard(number)[row]
        return out

    # -- writing -------------------------------------------------------------------------------
    def add(self, content_hash: str, source: str, vector: np.ndarray) -> None:
        """Queue one row; a full shard is written at once."""
        if content_hash in self._index or any(h == content_hash for h, _, _ in self._pending):
            return
        self._pending.append((content_hash, source, np.asarray(vector, dtype=np.float32)))
        if len(self._pending) >= self.shard_rows:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows as a new shard (array first, then the index that commits it)."""
        if not self._pending:
            return
        taken = {int(p.stem.split("-")[1]) for p in self.dir.glob("shard-*.json")}
        number = max(taken, default=-1) + 1
        array = np.stack([v for _, _, v in self._pending])
        with atomic_path(self.dir / f"shard-{number:06d}.npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, array)
        with atomic_open(self.dir / f"shard-{number:06d}.json") as fh:
            json.dump({"hashes": [h for h, _, _ in self._pending],
                       "sources": [s for _, s, _ in self._pending]}, fh)
        for row, (h, _, _) in enumerate(self._pending):
            self._index[h] = (number, row)
        self._pending.clear()


@dataclass
class Features:
    """Features of the files that worked, in input order, and the ones that did not."""

    vectors: torch.Tensor
    sources: list[str]
    hashes: list[str]
    failures: list[Failure] = field(default_factory=list)
    encoded: int = 0  # samples that went through the encoder in this call (0: all from the cache)


def extract_features(paths: Sequence[str | Path], frozen: FrozenEncoder, cache: FeatureCache | None = None, *,
                     batch_size: int = 32, workers: int = 0, progress: bool | None = None) -> Features:
    """Encode ``paths`` with a frozen encoder, through ``cache`` when given.

    Only files whose content is not cached yet are decoded and encoded
    (each distinct content once), batched, with ``workers`` decoding in
    worker processes. Unreadable files are skipped and reported.
    """
    failures: list[Failure] = []
    hashes: dict[str, str] = {}
    for path in map(str, paths):
        try:
            hashes[path] = file_hash(path)
        except OSError as exc:
            failures.append(Failure(source=path, reason=f"cannot read: {exc.strerror or exc}"))
    fresh: dict[str, np.ndarray] = {}
    todo: dict[str, str] = {}
    for path, h in hashes.items():
        if (cache is None or h not in cache) and h not in todo.values():
            todo[path] = h
    batches = prepared_batches(list(todo), frozen.loader, frozen.encoder, batch_size=batch_size, workers=workers)
    total = -(-len(todo) // batch_size)
    show = progress if progress is not None else total > 1
    encoded = 0
    with torch.inference_mode():
        for prepared in track(batches, total=total, description=f"encoding {frozen.modality}", enabled=show):
            failures.extend(prepared.failures)
            if not prepared.sources:
                continue
            vectors = frozen.encoder(prepared.batch).float().cpu().numpy()
            encoded += len(prepared.sources)
            for source, vector in zip(prepared.sources, vectors):
                fresh[todo[source]] = vector
                if cache is not None:
                    cache.add(todo[source], source, vector)
    if cache is not None:
        cache.flush()
    bad = {f.source for f in failures}
    kept = [p for p in hashes if p not in bad and (hashes[p] in fresh or (cache is not None and hashes[p] in cache))]
    failed_hashes = {todo[s] for s in bad if s in todo}
    for path in hashes:  # a duplicate of a file that failed fails too
        if path not in bad and path not in kept and hashes[path] in failed_hashes:
            failures.append(Failure(source=path, reason="same content as a file that failed"))
    from_cache = [hashes[p] for p in kept if hashes[p] not in fresh]
    cached = dict(zip(from_cache, cache.rows(from_cache))) if cache is not None and from_cache else {}
    rows = [fresh[hashes[p]] if hashes[p] in fresh else cached[hashes[p]] for p in kept]
    vectors = torch.from_numpy(np.stack(rows)) if rows else torch.empty(0, frozen.dim)
    return Features(vectors, kept, [hashes[p] for p in kept], failures, encoded)


@dataclass
class CachedRows:
    """Rows of a feature cache by content hash, read on demand (a DDP rank reads only its part)."""

    cache: FeatureCache
    hashes: list[str]

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def dim(self) -> int:
        return self.cache.dim

    def __getitem__(self, index: torch.Tensor | Sequence[int]) -> torch.Tensor:
        picked = [self.hashes[i] for i in torch.as_tensor(index).tolist()]
        return torch.from_numpy(self.cache.rows(picked))
