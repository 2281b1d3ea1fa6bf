"""A file is hashed once per process while it is unchanged; its feature-cache key stays what it was."""

from __future__ import annotations

import hashlib
import os

from unibind.features import keys
from unibind.seen_files import seen_by_space


def _counting(monkeypatch):
    calls = []
    real = keys.sha256_file
    monkeypatch.setattr(keys, "sha256_file", lambda path: calls.append(path) or real(path))
    keys._hash_of.cache_clear()
    return calls


def test_seen_check_then_cache_key_hashes_the_file_once(tmp_path, monkeypatch):
    from safetensors.torch import save_file
    import torch

    from unibind.seen_files import TRAINED_ON

    data = tmp_path / "a.png"
    data.write_bytes(b"some picture bytes")
    save_file({"image": torch.zeros(1, 8, dtype=torch.uint8)}, str(tmp_path / TRAINED_ON))
    calls = _counting(monkeypatch)
    assert seen_by_space(tmp_path, "image", [data]) == []        # what eval report asks first
    key = keys.file_key(data)                                     # then the feature-cache key
    assert len(calls) == 1
    # the key an existing cache entry was stored under: unchanged
    assert key == "file:" + hashlib.sha256(b"some picture bytes").hexdigest()


def test_an_edited_file_is_hashed_again(tmp_path, monkeypatch):
    data = tmp_path / "a.txt"
    data.write_bytes(b"one")
    calls = _counting(monkeypatch)
    first = keys.file_hash(data)
    data.write_bytes(b"two")
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))   # same size: the stamp tells
    assert keys.file_hash(data) == hashlib.sha256(b"two").hexdigest() != first
    assert len(calls) == 2
