"""Switch a shared SQLite file to write-ahead logging, patiently; open one only to read it.

Two processes opening a new file at once both ask for WAL; the switch takes a
lock that SQLite's busy timeout does not wait for, so "database is locked"
there means "try again" (seen in the feature-cache hammer test), not a broken file.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: How long to keep retrying the switch before the lock error is real.
WAL_PATIENCE_S = 60.0


def use_wal(db: sqlite3.Connection, patience: float = WAL_PATIENCE_S) -> None:
    """``PRAGMA journal_mode=WAL`` on ``db``, retried while another process holds the switch lock."""
    deadline = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def open_read_only(path: str | Path, **kwargs: Any) -> tuple[sqlite3.Connection, tuple[int, int] | None]:
    """A connection that cannot change ``path`` or its folder, and the file's stamp to check it by.

    ``mode=ro`` alone still creates ``-wal``/``-shm`` files beside a WAL file and
    leaves them behind. With no ``-wal`` beside it, every commit is in the file
    itself and no writer has it open, so it is opened ``immutable`` (no files,
    no locks); the stamp returned, ``(size, mtime_ns)``, lets the caller see
    (:func:`changed_since`) whether a writer checkpointed into it meanwhile.
    With a ``-wal`` and its ``-shm`` there, it is opened ``mode=ro`` to see those
    commits (its files exist already) and the stamp is None. A ``-wal`` with no
    ``-shm`` (left by a writer that was killed, or copied without it) has no live
    writer, but reading it needs a ``-shm`` beside it, which would be a new file in
    the user's folder and cannot be made at all in a folder they may not write:
    the file and its ``-wal`` are read from a private copy instead.
    """
    path = Path(path).resolve()
    if Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists():
        return _open_copy(path, **kwargs), None
    immutable = not Path(f"{path}-wal").exists()
    stamp = _stamp(path) if immutable else None
    uri = f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, **kwargs), stamp


class _CopyConnection(sqlite3.Connection):
    """A connection to a private copy; the copy's folder goes when it is closed or collected."""

    remove_copy: Any = None

    def close(self) -> None:
        super().close()
        if self.remove_copy is not None:
            self.remove_copy()


def _open_copy(path: Path, **kwargs: Any) -> sqlite3.Connection:
    folder = tempfile.TemporaryDirectory(prefix="unibind-readonly-")
    copy = Path(folder.name) / path.name
    shutil.copyfile(path, copy)
    shutil.copyfile(f"{path}-wal", f"{copy}-wal")
    db = sqlite3.connect(f"file:{quote(str(copy))}?mode=ro", uri=True, factory=_CopyConnection, **kwargs)
    db.remove_copy = weakref.finalize(db, folder.cleanup)
    return db


def changed_since(path: str | Path, stamp: tuple[int, int] | None) -> bool:
    """Whether ``path`` was rewritten after :func:`open_read_only` opened it immutable."""
    return stamp is not None and _stamp(Path(path).resolve()) != stamp


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns
