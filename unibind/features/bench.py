"""Benchmark of the feature cache: write, lookup and read speed, optionally against another implementation.

    python -m unibind.features.bench [--rows 20000] [--dim 512] [--old OLD_MODULE.py]

``--old`` loads another module with the same ``FeatureCache(root, identity,
shard_rows)`` API (e.g. the cache before the one cache, ``git show
<commit>:unibind/training/features.py > old.py``) and times both side by side
in one run, on the same simulated rows (random float32 vectors, named as such).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from typing import Any

import numpy as np


def _load(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("old_feature_cache", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.FeatureCache


def measure(FeatureCache: Any, rows: int, dim: int, shard_rows: int, batch: int) -> dict[str, float]:
    identity = {"encoder": "bench (simulated rows)", "dim": dim}
    keys = [f"file:{n:064x}" for n in range(rows)]
    vectors = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as root:
        cache = FeatureCache(root, identity, shard_rows=shard_rows)
        started = time.perf_counter()
        for key, vector in zip(keys, vectors):
            cache.add(key, "simulated", vector)
        cache.flush()
        out["write rows/s"] = rows / (time.perf_counter() - started)
        started = time.perf_counter()
        fresh = FeatureCache(root, identity, shard_rows=shard_rows)
        present = sum(key in fresh for key in keys)
        out["open + lookup one key at a time/s"] = rows / (time.perf_counter() - started)
        assert present == rows, f"{rows - present} rows missing"
        started = time.perf_counter()
        fresh = FeatureCache(root, identity, shard_rows=shard_rows)
        batched = getattr(fresh, "cached", None)   # what extract_features uses (the old cache has no batch form)
        present = len(batched(keys)) if batched else sum(key in fresh for key in keys)
        out["open + lookup all keys at once/s"] = rows / (time.perf_counter() - started)
        started = time.perf_counter()
        got = fresh.rows(keys)
        out["read all rows/s"] = rows / (time.perf_counter() - started)
        assert np.array_equal(got, vectors)
        order = np.random.default_rng(1).permutation(rows)
        started = time.perf_counter()
        for start in range(0, rows, batch):
            fresh.rows([keys[i] for i in order[start:start + batch]])
        out[f"random batches of {batch} rows/s"] = rows / (time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--shard-rows", type=int, default=512)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--old", help="A module file with another FeatureCache to compare with.")
    args = parser.parse_args(argv)
    from unibind.features.cache import FeatureCache

    caches = {"one cache (SQLite index)": FeatureCache}
    if args.old:
        caches["old (JSON shard index)"] = _load(args.old)
    results = {name: measure(cls, args.rows, args.dim, args.shard_rows, args.batch) for name, cls in caches.items()}
    print(f"feature cache: {args.rows} simulated rows of dim {args.dim}, shards of {args.shard_rows} rows")
    names = list(results)
    print(f"{'':36}" + "".join(f"{n:>28}" for n in names) + ("   ratio new/old" if len(names) == 2 else ""))
    for metric in results[names[0]]:
        values = [results[n][metric] for n in names]
        ratio = f"   {values[0] / values[1]:.2f}" if len(values) == 2 else ""
        print(f"{metric:36}" + "".join(f"{v:>28,.0f}" for v in values) + ratio)


if __name__ == "__main__":
    main(sys.argv[1:])
