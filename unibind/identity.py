"""Identities from content, never from paths or times.

A saved space, a cached text embedding or a cached feature records the
identity of the models it was made with. That identity must survive what users
do with a working install: recreating a venv, installing on another machine,
copying a space from a GPU box to a laptop. So it is built from what the model
*is* (the SHA-256 of its files' bytes, the digest of its weights, its settings)
and never from where it lies or when it was written.

Hashing model files costs a read of every byte, so digests are remembered in a
small SQLite memo (``<cache dir>/file-digests.sqlite``) keyed by the file's
device, inode, size, modification and change times. The memo is only a shortcut: a
file whose stat changed is hashed again, and a file copied elsewhere is
hashed once there and yields the same digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from unibind.sqlite_wal import use_wal

_SKIPPED_DIRS = {"__pycache__", ".git", ".cache"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo", ".lock"}
_MAX_DEPTH = 3
_CHUNK = 1 << 20


def identity_hash(identity: dict[str, Any]) -> str:
    """A short, stable hash of an identity record (key order does not matter)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]


def module_digest(module: Any) -> str | None:
    """SHA-256 of a module's parameters and buffers (None when it has none)."""
    state = getattr(module, "state_dict", None)
    if state is None:
        return None
    tensors = state()
    if not tensors:
        return None
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        tensor = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:24]


def _memo_path() -> Path | None:
    try:
        from unibind.paths import cache_dir

        return cache_dir() / "file-digests.sqlite"
    except OSError:
        return None


class _DigestMemo:
    """Digests by (device, inode, size, mtime); safe to share between processes."""

    def __init__(self, path: Path | None):
        self.db: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
            use_wal(self.db, patience=30.0)
            self.db.execute("CREATE TABLE IF NOT EXISTS digests (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL)")
        except sqlite3.Error:
            self.db = None  # a read-only cache dir costs speed, never correctness

    def get(self, key: str) -> str | None:
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT sha256 FROM digests WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def put(self, key: str, sha256: str) -> None:
        if self.db is None:
            return
        try:
            self.db.execute("INSERT OR REPLACE INTO digests (key, sha256) VALUES (?, ?)", (key, sha256))
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def _stat_key(path: Path) -> str:
    stat = path.stat()
    # ctime too: os.utime can put back a modification time, but not a change time
    return (f"{os.path.realpath(path)}\0{stat.st_dev}\0{stat.st_ino}\0{stat.st_size}\0{stat.st_mtime_ns}"
            f"\0{stat.st_ctime_ns}")


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks; the one file hash (also the feature-cache key's)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: str | Path, *, memo: _DigestMemo | None = None) -> str:
    """SHA-256 of a file's bytes, remembered per install so it is computed once."""
    path = Path(path)
    own = memo is None
    memo = memo or _DigestMemo(_memo_path())
    try:
        key = _stat_key(path)
        cached = memo.get(key)
        if cached is not None:
            return cached
        digest = sha256_file(path)
        memo.put(key, digest)
        return digest
    finally:
        if own:
            memo.close()


def _model_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if len(relative.parts) > _MAX_DEPTH or any(p in _SKIPPED_DIRS for p in relative.parts):
            continue
        if path.is_file() and path.suffix not in _SKIPPED_SUFFIXES:
            found.append(path)
    return sorted(found)


def files_identity(source: Any) -> list[tuple[str, int, str]] | None:
    """(relative name, size, SHA-256) of a model's files; None for a hub name or no source.

    Bytecode caches and lock files are left out: they differ between installs
    of the same model without changing what it computes.
    """
    if source is None or not Path(str(source)).exists():
        return None
    root = Path(str(source))
    memo = _DigestMemo(_memo_path())
    try:
        return [(path.name if path == root else relative_name(path, root), path.stat().st_size,
                 file_digest(path, memo=memo))
                for path in _model_files(root)]
    finally:
        memo.close()


def relative_name(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def source_identity(source: Any) -> dict[str, Any]:
    """A model source as identity: a hub name stays a name; a local path becomes its files' content."""
    if source is None:
        return {"source": None, "files": None}
    files = files_identity(source)
    return {"source": None if files is not None else str(source), "files": files}


def portable(value: Any) -> Any:
    """Settings with every existing local path replaced by a digest of what lies there.

    Settings often name a checkpoint or model folder; the same model installed
    in another folder must give the same identity.
    """
    if isinstance(value, dict):
        return {key: portable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(item) for item in value]
    if isinstance(value, str) and os.path.isabs(value) and os.path.exists(value):
        return {"local_files": identity_hash({"files": files_identity(value)})}
    return value


def space_text_identity(space: Any, *, centred: bool = True) -> dict[str, Any]:
    """What a space's text embeddings depend on (builds the text pipeline).

    A centred text side (unibind.centring) adds the hash of its mean, so centred vectors never share
    a cache key with plain ones; ``centred=False`` gives the text side without it (what centre files
    and ``space.json`` record).
    """
    pipe = space.pipeline("text")
    adapter = getattr(pipe.adapter, "inner", pipe.adapter)
    enc_spec = space.registry.get("encoder", pipe.encoder_name)
    ad_spec = space.registry.get("adapter", pipe.adapter_name)
    enc_settings = enc_spec.make_settings(space.settings.get(pipe.encoder_name))
    ad_settings = ad_spec.make_settings(space.settings.get(pipe.adapter_name))
    source = getattr(pipe.encoder, "source", None)
    identity = {
        "encoder": pipe.encoder_name,
        "encoder_class": f"{type(pipe.encoder).__module__}.{type(pipe.encoder).__qualname__}",
        **source_identity(source),
        "encoder_settings": portable(enc_settings.model_dump(mode="json")) if enc_settings is not None else None,
        "adapter": pipe.adapter_name,
        "adapter_settings": portable(ad_settings.model_dump(mode="json")) if ad_settings is not None else None,
        "adapter_weights": module_digest(adapter),
        "dim": int(space.dim),
    }
    if centred and adapter is not pipe.adapter:
        identity["centring"] = pipe.adapter.digest
    if identity["files"] is None:  # no model files to digest: the weights themselves say who it is
        weights = module_digest(pipe.encoder)
        if weights is not None:
            identity["encoder_weights"] = weights
    return identity
