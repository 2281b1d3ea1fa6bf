"""Everything FAISS: make, fill, empty, search and (de)serialise one index of unit vectors.

Vectors are unit-norm, so inner product is cosine similarity. Every index keeps
caller-chosen int64 ids (a flat or HNSW index inside ``IndexIDMap2``, IVF
natively), and its vectors can be read back (:func:`stored`), so an index can be
retrained or rebuilt without re-embedding a file.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from unibind.index.settings import IndexSettings


def faiss():
    import faiss as _faiss

    return _faiss


def kind_of(index: Any) -> str:
    f = faiss()
    if isinstance(index, f.IndexIDMap2):
        return "hnsw" if isinstance(f.downcast_index(index.index), f.IndexHNSW) else "flat"
    return "ivf"


def choose_kind(settings: IndexSettings, n: int) -> str:
    if settings.kind != "auto":
        return settings.kind
    return "flat" if n < settings.exact_below else "ivf"


def nlist_for(settings: IndexSettings, n: int) -> int:
    """IVF cells: the setting, else 4 x sqrt(n), never more than n / 39 (k-means needs points per cell)."""
    wanted = settings.nlist or round(4 * math.sqrt(n))
    return max(1, min(wanted, n // 39 or 1))


def make(kind: str, vectors: np.ndarray, ids: np.ndarray, settings: IndexSettings, *, seed: int = 0) -> Any:
    """A new index of ``kind`` holding ``vectors`` under ``ids`` (IVF is trained on them first)."""
    f = faiss()
    vectors, ids = _f32(vectors), np.ascontiguousarray(ids, dtype=np.int64)
    dim = vectors.shape[1]
    if kind == "flat":
        index = f.IndexIDMap2(f.IndexFlatIP(dim))
    elif kind == "hnsw":
        inner = f.IndexHNSWFlat(dim, settings.hnsw_m, f.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = settings.ef_construction
        index = f.IndexIDMap2(inner)
    elif kind == "ivf":
        nlist = nlist_for(settings, len(vectors))
        index = f.IndexIVFFlat(f.IndexFlatIP(dim), dim, nlist, f.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.cp.niter = settings.train_iterations
        sample = vectors
        most = nlist * settings.train_size
        if len(vectors) > most:
            pick = np.random.default_rng(seed).choice(len(vectors), most, replace=False)
            sample = vectors[np.sort(pick)]
        index.cp.max_points_per_centroid = settings.train_size
        index.train(sample)
        index.set_direct_map_type(f.DirectMap.Hashtable)
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    if len(vectors):
        index.add_with_ids(vectors, ids)
    return index


def add(index: Any, vectors: np.ndarray, ids: np.ndarray) -> None:
    _GPU_COPIES.pop(id(index), None)  # a GPU copy made before would miss these
    index.add_with_ids(_f32(vectors), np.ascontiguousarray(ids, dtype=np.int64))


def stored(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, vectors)`` held by ``index`` (read back from its storage, no re-embedding)."""
    f = faiss()
    if isinstance(index, f.IndexIDMap2):
        ids = f.vector_to_array(index.id_map).astype(np.int64)
        inner = f.downcast_index(index.index)
        vectors = inner.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), "float32")
        return ids, vectors
    ivf = f.extract_index_ivf(index)
    invlists = ivf.invlists
    all_ids, all_vectors = [], []
    for cell in range(ivf.nlist):
        size = invlists.list_size(cell)
        if not size:
            continue
        all_ids.append(f.rev_swig_ptr(invlists.get_ids(cell), size).copy())
        codes = f.rev_swig_ptr(invlists.get_codes(cell), size * invlists.code_size).copy()
        all_vectors.append(codes.view("float32").reshape(size, ivf.d))
    if not all_ids:
        return np.zeros(0, np.int64), np.zeros((0, ivf.d), "float32")
    return np.concatenate(all_ids).astype(np.int64), np.concatenate(all_vectors)


def remove(index: Any, ids: np.ndarray, settings: IndexSettings) -> Any:
    """``index`` without ``ids``; HNSW cannot delete in place, so it is rebuilt from its own vectors."""
    f = faiss()
    _GPU_COPIES.pop(id(index), None)  # a GPU copy made before would still return them
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if kind_of(index) == "hnsw":
        have, vectors = stored(index)
        keep = ~np.isin(have, ids)
        return make("hnsw", vectors[keep], have[keep], settings)
    index.remove_ids(f.IDSelectorArray(ids) if kind_of(index) == "ivf" else f.IDSelectorBatch(ids))
    return index


def search(index: Any, queries: np.ndarray, k: int, settings: IndexSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, ids)``, each ``[len(queries), k]``; missing hits have id -1."""
    f = faiss()
    kind = kind_of(index)
    if kind == "ivf":
        f.extract_index_ivf(index).nprobe = settings.nprobe
    elif kind == "hnsw":
        f.downcast_index(index.index).hnsw.efSearch = max(settings.ef_search, k)
    return on_gpu(index, settings).search(_f32(queries), k)


#: GPU copies by id of the CPU index (the CPU index is kept with its copy, so the id stays its own).
_GPU_COPIES: dict[int, tuple[Any, Any]] = {}


def on_gpu(index: Any, settings: IndexSettings) -> Any:
    """The copy of ``index`` on every GPU faiss sees (flat and IVF; HNSW has none), else ``index`` itself.

    Only with faiss-gpu installed, a GPU present and the device setting on cuda
    (``--device cpu`` keeps the search on the CPU too: :mod:`unibind.devices`); made
    once per index and given the current ``nprobe``. Not exercised on the CPU-only build machine.
    """
    from unibind.devices import resolve

    f = faiss()
    if settings.gpu == "off" or kind_of(index) == "hnsw" or getattr(f, "get_num_gpus", lambda: 0)() < 1 \
            or resolve().type != "cuda":
        return index
    if id(index) not in _GPU_COPIES:
        _GPU_COPIES.clear()  # one index searched at a time: do not hold GPU memory for old ones
        _GPU_COPIES[id(index)] = (index, f.index_cpu_to_all_gpus(index))
    copy = _GPU_COPIES[id(index)][1]
    if kind_of(index) == "ivf":
        f.GpuParameterSpace().set_index_parameter(copy, "nprobe", settings.nprobe)
    return copy


def to_bytes(index: Any) -> np.ndarray:
    return faiss().serialize_index(index)


def from_bytes(data: np.ndarray) -> Any:
    return faiss().deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))


def _f32(vectors: Any) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if array.ndim != 2:
        raise ValueError(f"expected a [n, dim] array of vectors, got shape {array.shape}")
    return array
