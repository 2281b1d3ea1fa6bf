"""Frozen-encoder features of an evaluation set, through the one feature cache (:mod:`unibind.features`).

Features are cached *before* the adapter, so the default ImageNet bridge and
any trained adapter on the same encoder share them, and so do training and
``unibind embed``. Each item is keyed by its content (a file's SHA-256, an
in-memory sample's bytes), never by path or time. Items that fail to load are
skipped and reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from unibind.devices import module_device, to_device, to_host
from unibind.features import FeatureCache, FrozenEncoder, extract_features, extract_samples
from unibind.results import Failure


@dataclass
class Features:
    """Rows of the items that worked (``index`` into the input), and the failures."""

    vectors: torch.Tensor
    index: list[int]
    failures: list[Failure] = field(default_factory=list)
    encoded: int = 0


def array_fingerprint(array: np.ndarray, **recipe: Any) -> str:
    """A label for an in-memory dataset (its bytes and recipe); the cache keys each item itself."""
    digest = hashlib.sha256(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps(recipe, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:24]


def files_fingerprint(paths: Sequence[str | Path]) -> str:
    """A label for a set of files (paths, sizes, times); not a cache key: the cache hashes content."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        stat = path.stat() if path.exists() else None
        digest.update(f"{path.resolve()}\0{stat.st_size if stat else -1}\0"
                      f"{stat.st_mtime_ns if stat else -1}\n".encode())
    return digest.hexdigest()[:24]


def cached_features(space: Any, modality: str, items: Sequence[Any], data_key: str | None = None, *,
                    load: Callable[[Any], Any] | None = None, cache_root: str | Path | None = None,
                    batch_size: int = 32, progress: bool | None = None, **_ignored: Any) -> Features:
    """Encoder features ``[n_ok, dim]`` of ``items``: paths (with ``load``) or loaded samples.

    ``data_key`` is accepted for older callers and not needed: every item is
    keyed by its content. Paths are decoded by the space's own loader.
    """
    frozen = FrozenEncoder.from_space(space, modality)
    cache = FeatureCache(cache_root, frozen.cache_identity)
    if load is not None:
        names = [str(i) for i in items]
        out = extract_features(names, frozen, cache, batch_size=batch_size, progress=progress)
        position: dict[str, int] = {}
        for n, name in enumerate(names):
            position.setdefault(name, n)
        return Features(out.vectors, [position[s] for s in out.sources], out.failures, out.encoded)
    names = [f"#{n}" for n in range(len(items))]
    out = extract_samples(list(items), frozen, cache, names=names, batch_size=batch_size, progress=progress)
    return Features(out.vectors, [int(s[1:]) for s in out.sources], out.failures, out.encoded)


def cached_embeddings(space: Any, modality: str, items: Sequence[Any], data_key: str | None = None,
                      **kwargs: Any) -> Features:
    """Unit-norm space embeddings: cached encoder features through the space's adapter."""
    feats = cached_features(space, modality, items, data_key, **kwargs)
    with torch.inference_mode():
        adapter = space.pipeline(modality).adapter
        if not len(feats.index):
            return Features(torch.empty(0, space.dim), feats.index, feats.failures, feats.encoded)
        where = module_device(adapter) if isinstance(adapter, torch.nn.Module) else torch.device("cpu")
        out = F.normalize(adapter(to_device(feats.vectors, where)).float(), dim=-1)  # on the space's device
        return Features(to_host(out), feats.index, feats.failures, feats.encoded)
