"""``unibind bench index``: flat vs IVF vs HNSW on one gallery, side by side in one run.

The gallery is SIMULATED FROM REAL EMBEDDINGS: the Fashion-MNIST test images
embedded by a space (real vectors, cached once per space), each replicated
with Gaussian noise to reach 100k or 1M vectors and renormalised. The noise is
scaled to the real vectors' median nearest-neighbour distance, so copies of one
image overlap with their neighbours' copies. Queries are further noisy copies
that are not in the gallery. Recall@10 is measured against the flat index's
exact answer to the same queries.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from unibind.index import engine
from unibind.index.settings import IndexSettings

NAME = "simulated from real embeddings (Fashion-MNIST test set, replicated with noise)"


@dataclass
class Row:
    size: int
    kind: str
    search_setting: str
    build_s: float
    index_mb: float
    queries_per_s: float
    recall_at_10: float
    speedup_vs_flat: float = 1.0


def real_embeddings(space: Any, limit: int | None = None, batch_size: int = 64) -> np.ndarray:
    """Fashion-MNIST test images embedded by ``space`` (cached under the cache dir, keyed by the space)."""
    from unibind.atomic import atomic_path
    from unibind.datasets import fashion_mnist_images
    from unibind.index.identity import space_identity
    from unibind.paths import cache_dir
    from unibind.progress import track

    key = f"fashion-mnist-test-{space_identity(space)['hash']}-{limit or 'all'}.npy"
    path = cache_dir() / "index-bench" / key
    if path.is_file():
        return np.load(path)
    images, _ = fashion_mnist_images("test", limit)
    parts = [space.embed_samples("image", images[i:i + batch_size]).float().numpy()
             for i in track(range(0, len(images), batch_size), description="embedding Fashion-MNIST")]
    vectors = np.concatenate(parts).astype("float32")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, vectors)
    return vectors


def nearest_neighbour_distance(vectors: np.ndarray, sample: int = 2000, seed: int = 0) -> float:
    """Median distance from a vector to its nearest other vector (on a sample)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(vectors), min(sample, len(vectors)), replace=False)
    sims = vectors[pick] @ vectors.T
    sims[np.arange(len(pick)), pick] = -np.inf
    return float(np.median(np.sqrt(np.maximum(0.0, 2 - 2 * sims.max(axis=1)))))


def simulated(real: np.ndarray, n: int, *, noise: float, seed: int) -> np.ndarray:
    """``n`` unit vectors: real vectors in turn plus Gaussian noise of norm ~ ``noise`` x NN distance."""
    rng = np.random.default_rng(seed)
    sigma = noise * nearest_neighbour_distance(real) / np.sqrt(real.shape[1])
    out = np.empty((n, real.shape[1]), dtype="float32")
    step = 100_000
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        block = real[rows % len(real)] + rng.standard_normal((len(rows), real.shape[1]), dtype=np.float32) * sigma
        out[rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _timed_search(index: Any, queries: np.ndarray, settings: IndexSettings) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    _, ids = engine.search(index, queries, 10, settings)
    return ids, len(queries) / (time.perf_counter() - start)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / truth.shape[1] for a, b in zip(found, truth)]))


def bench_index(real: np.ndarray, sizes: Sequence[int], *, kinds: Sequence[str] = ("flat", "ivf", "hnsw"),
                queries: int = 1000, noise: float = 0.5, nprobes: Sequence[int] = (8, 16, 32, 64),
                ef_searches: Sequence[int] = (32, 64, 128), settings: IndexSettings | None = None,
                seed: int = 0, report: Any = None) -> list[Row]:
    """Rows of build time, size, queries/s and recall@10 per index kind and search setting, per size."""
    settings = settings or IndexSettings()
    rows: list[Row] = []
    qs = simulated(real, queries, noise=noise, seed=seed + 1)
    for size in sizes:
        gallery = simulated(real, size, noise=noise, seed=seed)
        ids = np.arange(size, dtype=np.int64)
        flat_start = time.perf_counter()
        flat = engine.make("flat", gallery, ids, settings)
        flat_build = time.perf_counter() - flat_start
        truth, flat_qps = _timed_search(flat, qs, settings)
        size_rows = [Row(size, "flat", "exact", flat_build, _mb(flat), flat_qps, 1.0)] if "flat" in kinds else []
        del flat
        for kind, sweep, field in (("ivf", nprobes, "nprobe"), ("hnsw", ef_searches, "ef_search")):
            if kind not in kinds:
                continue
            start = time.perf_counter()
            index = engine.make(kind, gallery, ids, settings, seed=seed)
            built = time.perf_counter() - start
            size_mb = _mb(index)
            for value in sweep:
                tuned = settings.model_copy(update={field: value})
                found, qps = _timed_search(index, qs, tuned)
                extra = f", nlist={engine.nlist_for(settings, size)}" if kind == "ivf" else f", M={settings.hnsw_m}"
                size_rows.append(Row(size, kind, f"{field}={value}{extra}", built, size_mb, qps,
                                     _recall(found, truth), qps / flat_qps))
            del index
        for row in size_rows:
            if report is not None:
                report(row)
        rows += size_rows
    return rows


def _mb(index: Any) -> float:
    return engine.to_bytes(index).nbytes / 2**20


def as_dicts(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
