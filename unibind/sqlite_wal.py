"""Switch a shared SQLite file to write-ahead logging, patiently.

Two processes opening a new file at once both ask for WAL; the switch takes a
lock that SQLite's busy timeout does not wait for, so "database is locked"
there means "try again" (seen in the feature-cache hammer test), not a broken file.
"""

from __future__ import annotations

import sqlite3
import time

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
