"""The FAISS side: the kind follows the size, ids survive every rebuild, approximate search stays close to exact."""

from __future__ import annotations

import numpy as np
import pytest

from unibind.index import engine
from unibind.index.settings import IndexSettings, parse_assignments
from unibind.index.store import SearchIndex


def _unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _paths(start: int, n: int) -> list[str]:
    return [f"/g/{i}.png" for i in range(start, start + n)]


def test_auto_starts_flat_and_becomes_ivf_past_the_threshold_keeping_every_item():
    index = SearchIndex.new(16, {"hash": "h"}, IndexSettings(exact_below=200, retrain_growth=2.0))
    vectors = _unit(700)
    index.add("image", vectors[:150], _paths(0, 150))
    assert index.record.modalities["image"].kind == "flat"
    index.add("image", vectors[150:300], _paths(150, 150))
    part = index.record.modalities["image"]
    assert (part.kind, part.count, part.trained_on) == ("ivf", 300, 300)
    index.add("image", vectors[300:700], _paths(300, 400))  # 700 > 2 x 300: retrained on all of them
    assert index.record.modalities["image"].trained_on == 700
    ids, stored = engine.stored(index.indexes["image"])
    order = np.argsort(ids)
    assert np.array_equal(ids[order], np.arange(700)) and np.allclose(stored[order], vectors, atol=1e-6)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_search_agrees_with_exact_search(kind):
    vectors, queries = _unit(3000, 32), _unit(50, 32, seed=1)
    ids = np.arange(3000) * 7  # ids are the caller's, not positions
    settings = parse_assignments([f"kind={kind}", "nlist=30", "nprobe=30", "ef_search=200"])
    exact = vectors @ queries.T
    truth = ids[np.argsort(-exact, axis=0)[:10].T]
    scores, found = engine.search(engine.make(kind, vectors, ids, settings), queries, 10, settings)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
    assert recall >= 0.95
    assert np.allclose(scores[:, 0], np.sort(exact, axis=0)[-1], atol=1e-4)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_removed_items_are_never_returned_and_the_others_still_are(kind):
    index = SearchIndex.new(16, {"hash": "h"}, IndexSettings(kind=kind, nlist=4, nprobe=4))
    vectors = _unit(400)
    index.add("image", vectors, _paths(0, 400))
    gone = index.remove(["/g/3.png", "/g/5.png", "/g/nope.png"])
    assert gone == ["/g/3.png", "/g/5.png"] and len(index) == 398
    _, ids = engine.search(index.indexes["image"], vectors[[3, 5, 7]], 1, index.settings)
    found = [index.items[int(i)][0] for i in ids[:, 0]]
    assert "/g/3.png" not in found and "/g/5.png" not in found and found[2] == "/g/7.png"


def test_the_same_path_is_never_indexed_twice():
    index = SearchIndex.new(16, {"hash": "h"})
    vectors = _unit(4)
    assert index.add("image", vectors[:2], _paths(0, 2)) == _paths(0, 2)
    assert index.add("image", vectors, _paths(0, 2) + ["/g/9.png", "/g/9.png"]) == ["/g/9.png"]
    assert len(index) == 3 and index.indexes["image"].ntotal == 3


def test_a_saved_index_loads_as_it_was(tmp_path):
    index = SearchIndex.new(16, {"hash": "h", "source": "x"}, IndexSettings(kind="ivf", nlist=4, nprobe=4))
    vectors = _unit(300)
    index.add("image", vectors[:200], _paths(0, 200))
    index.add("audio", vectors[200:], [f"/a/{i}.wav" for i in range(100)])
    index.save(tmp_path / "x.index")
    loaded = SearchIndex.load(tmp_path / "x.index")
    assert loaded.record == index.record and loaded.items == index.items and loaded.next_id == 300
    a = engine.search(index.indexes["audio"], vectors[:5], 3, index.settings)
    b = engine.search(loaded.indexes["audio"], vectors[:5], 3, loaded.settings)
    assert np.array_equal(a[1], b[1])


def test_with_a_gpu_searches_go_to_one_gpu_copy_renewed_when_the_index_changes(monkeypatch):
    """faiss-gpu's entry points replaced by recording fakes (no GPU here): the code path a GPU run takes."""
    import faiss

    copies, nprobes = [], []

    class FakeParameterSpace:
        def set_index_parameter(self, index, name, value):
            nprobes.append((name, value))

    def to_gpus(index):
        copies.append(index)
        return faiss.clone_index(index)

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", to_gpus, raising=False)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the device setting resolves to cuda
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.delenv("UNIBIND_DEVICE", raising=False)
    monkeypatch.setattr(faiss, "GpuParameterSpace", FakeParameterSpace, raising=False)
    settings = IndexSettings(kind="ivf", nlist=4, nprobe=3)
    vectors = _unit(300)
    index = engine.make("ivf", vectors[:200], np.arange(200), settings)
    engine.search(index, vectors[:2], 1, settings)
    engine.search(index, vectors[:2], 1, settings.model_copy(update={"nprobe": 4}))
    assert copies == [index] and nprobes == [("nprobe", 3), ("nprobe", 4)]
    engine.add(index, vectors[200:], np.arange(200, 300))
    _, ids = engine.search(index, vectors[250:251], 1, settings)
    assert len(copies) == 2 and ids[0, 0] == 250  # a fresh copy that holds the new vectors
    hnsw = engine.make("hnsw", vectors, np.arange(300), settings)
    engine.search(hnsw, vectors[:1], 1, settings)
    assert len(copies) == 2  # HNSW has no GPU version: searched where it is
    engine.search(index, vectors[:1], 1, settings.model_copy(update={"gpu": "off"}))
    assert len(copies) == 2
    from unibind.devices import chosen

    engine._GPU_COPIES.clear()
    with chosen("cpu"):  # --device cpu: the search stays on the CPU too
        engine.search(index, vectors[:1], 1, settings)
    assert len(copies) == 2
