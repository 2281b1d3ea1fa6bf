"""`unibind bench index` on a small simulated gallery: every kind is compared with exact search in one run."""

from __future__ import annotations

import numpy as np

from unibind.index.bench import bench_index, nearest_neighbour_distance, simulated
from unibind.index.settings import IndexSettings


def _real(n=300, dim=24, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_copies_are_unit_vectors_near_their_real_vector():
    real = _real()
    copies = simulated(real, 900, noise=0.5, seed=1)
    assert np.allclose(np.linalg.norm(copies, axis=1), 1.0, atol=1e-5)
    nearest = np.argmax(copies @ real.T, axis=1)
    assert np.mean(nearest == np.arange(900) % 300) > 0.9
    assert np.mean(np.linalg.norm(copies - real[np.arange(900) % 300], axis=1)) < nearest_neighbour_distance(real)


def test_the_table_has_every_kind_and_setting_against_exact_search():
    rows = bench_index(_real(), [2000], queries=50, nprobes=(1, 12), ef_searches=(16, 64),
                       settings=IndexSettings(nlist=12))
    assert [(r.kind, r.search_setting.split(",")[0]) for r in rows] == [
        ("flat", "exact"), ("ivf", "nprobe=1"), ("ivf", "nprobe=12"), ("hnsw", "ef_search=16"),
        ("hnsw", "ef_search=64")]
    by = {r.search_setting.split(",")[0]: r for r in rows}
    assert by["exact"].recall_at_10 == 1.0 and by["nprobe=12"].recall_at_10 == 1.0  # every cell: exact
    assert by["nprobe=1"].recall_at_10 < 1.0  # one cell of twelve misses neighbours: recall is measured
    assert all(r.queries_per_s > 0 and r.index_mb > 0 and r.size == 2000 for r in rows)


def test_bad_bench_options_end_in_one_error_line_before_any_work(run):
    for args, needle in ((["--nprobes", "0,x"], "--nprobes"), (["--kinds", "flat,lsh"], "kinds"),
                         (["--sizes", "10"], "sizes"), (["-s", "nlist=0"], "--set")):
        code, _, err = run("bench", "index", *args)
        errors = [line for line in err.splitlines() if line.startswith("Error:")]
        assert code != 0 and len(errors) == 1 and needle in errors[0] and "Traceback" not in err, err
