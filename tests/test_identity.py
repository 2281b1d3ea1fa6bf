"""Identities come from content: a copied model keeps its identity, a changed byte does not."""

import os
import shutil

import torch

from unibind.identity import file_digest, files_identity, identity_hash, module_digest


def _model(folder):
    (folder / "sub").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    (folder / "config.json").write_text('{"dim": 4}')
    (folder / "sub" / "vocab.txt").write_text("a\nb\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.cpython-311.pyc").write_bytes(os.urandom(32))
    return folder


def test_a_copy_elsewhere_with_new_times_has_the_same_identity(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "cache"))
    original = _model(tmp_path / "a")
    copy = tmp_path / "elsewhere" / "b"
    shutil.copytree(original, copy)
    (copy / "__pycache__" / "x.cpython-311.pyc").write_bytes(os.urandom(32))  # bytecode differs per install
    for path in copy.rglob("*"):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert files_identity(copy) == files_identity(original)
    assert [name for name, _, _ in files_identity(original)] == ["config.json", "model.safetensors",
                                                                  "sub/vocab.txt"]


def test_one_changed_byte_changes_the_identity_even_with_the_same_size_and_time(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "cache"))
    model = _model(tmp_path / "m")
    weights = model / "model.safetensors"
    before = files_identity(model)
    stat = weights.stat()
    data = bytearray(weights.read_bytes())
    data[100] ^= 1
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same time: only content differs
    after = files_identity(model)
    assert after != before
    assert identity_hash({"files": after}) != identity_hash({"files": before})


def test_digests_are_remembered_and_match_a_plain_sha256(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    assert file_digest(path) == hashlib.sha256(b"weights").hexdigest()
    assert (tmp_path / "cache" / "file-digests.sqlite").exists()
    assert file_digest(path) == hashlib.sha256(b"weights").hexdigest()  # from the memo


def test_module_digest_follows_the_weights():
    layer = torch.nn.Linear(3, 2)
    digest = module_digest(layer)
    with torch.no_grad():
        layer.bias[0] += 1
    assert module_digest(layer) != digest
    assert module_digest(torch.nn.Identity()) is None
    assert files_identity(None) is None and files_identity("no/such/hub-name") is None
