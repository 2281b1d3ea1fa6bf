"""One feature cache for every command, safe for any number of processes reading and writing at once.

Layout under the cache root::

    features.sqlite              the index: (identity, key) -> (shard, row)
    <identity hash>/identity.json   what the identity is (for people)
    <identity hash>/<shard>.npy     float32 [n, dim], immutable once written

Writing a batch of rows: the shard is written under a name no other writer can
pick (time, host, pid, random) and renamed into place, *then* its rows are
entered in the index in one ``BEGIN IMMEDIATE`` transaction with ``INSERT OR
IGNORE``. So the index only ever points at complete, immutable files, a key
written by two processes at once keeps the first row (both are the same
encoder's output for the same content), and nobody ever reads another key's
row. A kill between the rename and the commit leaves an unindexed shard that
costs space, never correctness.

Keys come from :mod:`unibind.features.keys`; the identity from
:func:`unibind.features.extract.encoder_identity`.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unibind.sqlite_wal import use_wal
from unibind.atomic import _host, atomic_open, atomic_path, remove_stale_temps
from unibind.errors import InputError
from unibind.identity import identity_hash

#: Rows per shard: a kill loses at most this many freshly encoded samples.
DEFAULT_SHARD_ROWS = 512
_INDEX = "features.sqlite"
_QUERY_CHUNK = 500


def default_cache_root() -> Path:
    from unibind.paths import cache_dir

    return cache_dir() / "feature-cache"


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None, timeout=60)
    db.execute("PRAGMA busy_timeout=60000")
    use_wal(db)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS rows (identity TEXT NOT NULL, key TEXT NOT NULL, shard TEXT NOT NULL,"
               " row INTEGER NOT NULL, source TEXT, PRIMARY KEY (identity, key)) WITHOUT ROWID")
    return db


class FeatureCache:
    """Feature rows of one encoder identity, by content key."""

    def __init__(self, root: str | Path | None, identity: dict[str, Any], *, shard_rows: int = DEFAULT_SHARD_ROWS):
        self.root = Path(root) if root is not None else default_cache_root()
        self.identity = identity
        self.hash = identity_hash(identity)
        self.dir = self.root / self.hash
        self.dim = int(identity["dim"])
        self.shard_rows = shard_rows
        self.dir.mkdir(parents=True, exist_ok=True)
        marker = self.dir / "identity.json"
        if not marker.is_file():
            with atomic_open(marker) as fh:
                json.dump(identity, fh, indent=1, sort_keys=True, default=str)
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._where: dict[str, tuple[str, int]] = {}   # committed rows never change: safe to remember
        self._maps: dict[str, np.ndarray] = {}
        self._pending: dict[str, tuple[str, np.ndarray]] = {}
        self.written = 0  # rows this object entered into the index

    # -- connection (one per process; re-opened after fork or unpickling) ----------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():
            self._db, self._pid = _connect(self.root / _INDEX), os.getpid()
        return self._db

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_db=None, _maps={}, _pending={})
        return state

    def close(self) -> None:
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db = None

    def remove_stale_temps(self) -> list[Path]:
        """Temporary shards of writers on this host that were killed (see :func:`unibind.atomic.remove_stale_temps`)."""
        return remove_stale_temps(self.dir, recursive=False)

    # -- reading -------------------------------------------------------------------------------
    def reload(self) -> None:
        """Nothing to reload: every lookup asks the index (kept for callers of the old cache)."""

    def _lookup(self, keys: Iterable[str]) -> None:
        unknown = [k for k in dict.fromkeys(keys) if k not in self._where]
        for start in range(0, len(unknown), _QUERY_CHUNK):
            chunk = unknown[start:start + _QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, shard, row in self.db.execute(
                    f"SELECT key, shard, row FROM rows WHERE identity = ? AND key IN ({marks})", [self.hash, *chunk]):
                self._where[key] = (shard, row)

    def cached(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` whose rows are in the cache."""
        keys = list(keys)
        self._lookup(keys)
        return {k for k in keys if k in self._where}

    def __contains__(self, key: str) -> bool:
        return bool(self.cached([key]))

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM rows WHERE identity = ?", (self.hash,)).fetchone()[0]

    def _shard(self, name: str) -> np.ndarray:
        if name not in self._maps:
            path = self.dir / f"{name}.npy"
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise InputError(path, f"unreadable feature-cache shard ({exc}); delete {self.root / _INDEX} "
                                 "and the shards to recompute") from exc
            if array.ndim != 2 or array.shape[1] != self.dim:
                raise InputError(path, f"shard is {array.shape}, expected [n, {self.dim}]")
            self._maps[name] = array
        return self._maps[name]

    def rows(self, keys: Sequence[str]) -> np.ndarray:
        """Features ``[len(keys), dim]`` of cached keys."""
        self._lookup(keys)
        missing = [k for k in keys if k not in self._where]
        if missing:
            raise KeyError(f"{len(missing)} key(s) not in the feature cache {self.dir}")
        out = np.empty((len(keys), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            shard, row = self._where[key]
            out[i] = self._shard(shard)[row]
        return out

    # -- writing -------------------------------------------------------------------------------
    def add(self, key: str, source: str, vector: np.ndarray) -> None:
        """Queue one row; a full shard is written at once."""
        if key in self._pending or key in self._where:
            return
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.dim,):
            raise ValueError(f"feature of shape {vector.shape}, expected ({self.dim},)")
        self._pending[key] = (source, vector)
        if len(self._pending) >= self.shard_rows:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows as a new immutable shard, then index them in one transaction."""
        if not self._pending:
            return
        keys = list(self._pending)
        array = np.stack([self._pending[k][1] for k in keys])
        name = f"{time.time_ns():x}-{_host()}-{os.getpid()}-{secrets.token_hex(6)}"
        with atomic_path(self.dir / f"{name}.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, array)
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO rows (identity, key, shard, row, source) VALUES (?, ?, ?, ?, ?)",
                           [(self.hash, k, name, n, self._pending[k][0]) for n, k in enumerate(keys)])
            entered = db.total_changes - before
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.written += entered
        self._pending.clear()
        if entered == 0:  # another writer had every row already: nothing points at this shard
            (self.dir / f"{name}.npy").unlink(missing_ok=True)
        self._lookup(keys)  # a key another writer committed first points at its shard
