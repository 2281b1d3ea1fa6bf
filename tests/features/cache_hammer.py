"""One writer/reader of the feature-cache hammer test, run as its own process.

``python cache_hammer.py ROOT WORKER KEYS PER_WORKER SHARD_ROWS [MODULE]`` adds
PER_WORKER of the KEYS shared keys (its own shuffled pick) in shards of
SHARD_ROWS rows, reading back everything it can see after each shard, and
prints a JSON line: rows written, rows read, rows that were not the key's own.
MODULE (default ``unibind.features.cache``) lets the same hammer run against another
cache implementation with the same API (e.g. the old one, for comparison).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys

import numpy as np

DIM = 8
IDENTITY = {"encoder": "hammer", "dim": DIM}


def encode(key: str) -> np.ndarray:
    """The 'fresh encode' of a key: a deterministic vector from its hash."""
    seed = int(hashlib.sha256(key.encode()).hexdigest()[:16], 16)
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


def keys(count: int) -> list[str]:
    return [hashlib.sha256(f"item-{n}".encode()).hexdigest() for n in range(count)]


def main(root: str, worker: int, count: int, per_worker: int, shard_rows: int,
         module: str = "unibind.features.cache") -> None:
    FeatureCache = importlib.import_module(module).FeatureCache
    cache = FeatureCache(root, IDENTITY, shard_rows=shard_rows)
    mine = list(np.random.default_rng(worker).permutation(keys(count))[:per_worker])
    wrong = read = 0
    for n, key in enumerate(mine):
        if key not in cache:
            cache.add(key, f"worker{worker}/{key[:8]}", encode(key))
        if n % shard_rows == shard_rows - 1:
            seen = [k for k in mine[:n + 1] if k in cache]
            if seen:
                rows = cache.rows(seen)
                wrong += sum(not np.array_equal(r, encode(k)) for k, r in zip(seen, rows))
                read += len(seen)
    cache.flush()
    print(json.dumps({"worker": worker, "read": read, "wrong": wrong}))


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:6]), *sys.argv[6:7])
