"""The WAL switch waits out another process's switch lock and reports real errors at once."""

import sqlite3

import pytest

from unibind.sqlite_wal import use_wal


class _Flaky:
    """A connection whose first ``locked`` calls fail as a concurrent WAL switch makes them fail."""

    def __init__(self, locked: int, error: str = "database is locked"):
        self.locked, self.error, self.calls = locked, error, 0

    def execute(self, statement):
        self.calls += 1
        if self.calls <= self.locked:
            raise sqlite3.OperationalError(self.error)
        return None


def test_a_fresh_file_switches_to_wal(tmp_path):
    db = sqlite3.connect(str(tmp_path / "x.sqlite"))
    use_wal(db)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_locked_switch_is_retried_until_it_succeeds():
    flaky = _Flaky(locked=3)
    use_wal(flaky)  # type: ignore[arg-type]
    assert flaky.calls == 4


def test_other_errors_and_a_lock_past_the_patience_are_raised():
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        use_wal(_Flaky(locked=1, error="disk I/O error"))  # type: ignore[arg-type]
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        use_wal(_Flaky(locked=10**6), patience=0.2)  # type: ignore[arg-type]
