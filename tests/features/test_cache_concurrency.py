"""Many processes writing and reading one feature cache at once: nothing lost, no row served for another key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HAMMER = Path(__file__).with_name("cache_hammer.py")
sys.path.insert(0, str(HAMMER.parent))
import cache_hammer

from unibind.features import FeatureCache


def hammer(root: Path, *, workers: int, count: int, per_worker: int, shard_rows: int,
           module: str = "unibind.features.cache") -> list[dict]:
    procs = [subprocess.Popen([sys.executable, str(HAMMER), str(root), str(w), str(count), str(per_worker),
                               str(shard_rows), module], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(workers)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


@pytest.mark.slow
def test_four_processes_hammering_small_shards_lose_nothing_and_serve_only_their_own_rows(tmp_path):
    count = 400
    reports = hammer(tmp_path, workers=4, count=count, per_worker=300, shard_rows=3)
    assert sum(r["read"] for r in reports) > 1000          # they really did read while others wrote
    assert [r["wrong"] for r in reports] == [0, 0, 0, 0]
    cache = FeatureCache(tmp_path, cache_hammer.IDENTITY)
    picked = set()
    for w in range(4):
        picked |= set(np.random.default_rng(w).permutation(cache_hammer.keys(count))[:300])
    assert len(cache) == len(picked)                       # every key any worker added, once
    ordered = sorted(picked)
    rows = FeatureCache(tmp_path, cache_hammer.IDENTITY).rows(ordered)
    fresh = np.stack([cache_hammer.encode(k) for k in ordered])
    assert np.array_equal(rows, fresh)                     # every row is its key's own fresh encode


def test_two_writers_of_the_same_keys_keep_one_row_each(tmp_path):
    a = FeatureCache(tmp_path, cache_hammer.IDENTITY, shard_rows=100)
    b = FeatureCache(tmp_path, cache_hammer.IDENTITY, shard_rows=100)
    keys = cache_hammer.keys(5)
    for key in keys:
        a.add(key, "a", cache_hammer.encode(key))
        b.add(key, "b", cache_hammer.encode(key))
    a.flush()
    b.flush()                                               # every row already there: its shard is dropped
    assert len(a) == 5 and a.written == 5 and b.written == 0
    assert len(list(a.dir.glob("*.npy"))) == 1
    assert np.array_equal(b.rows(keys), np.stack([cache_hammer.encode(k) for k in keys]))


def test_identities_do_not_share_rows(tmp_path):
    key = cache_hammer.keys(1)[0]
    one = FeatureCache(tmp_path, cache_hammer.IDENTITY)
    one.add(key, "x", cache_hammer.encode(key))
    one.flush()
    other = FeatureCache(tmp_path, {**cache_hammer.IDENTITY, "encoder": "other"})
    assert key in one and key not in other
