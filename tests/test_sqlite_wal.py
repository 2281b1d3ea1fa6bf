"""The WAL switch waits out another process's switch lock and reports real errors at once."""

import sqlite3
from pathlib import Path

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


def _kb_with_a_wal_and_no_shm(tmp_path):
    """A WAL file whose last commit is only in its -wal (a writer killed before its checkpoint), -shm gone."""
    import shutil

    folder = tmp_path / "kb"
    folder.mkdir()
    path = folder / "kb.sqlite"
    writer = sqlite3.connect(str(path))
    writer.execute("PRAGMA wal_autocheckpoint=0")
    use_wal(writer)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1), (2)")
    writer.commit()
    saved = tmp_path / "saved"
    saved.mkdir()
    for name in ("kb.sqlite", "kb.sqlite-wal"):    # what a kill leaves: the file and its log, no live writer
        shutil.copyfile(folder / name, saved / name)
    writer.close()
    shutil.rmtree(folder)
    saved.rename(folder)
    return path


def test_a_wal_without_its_shm_is_read_with_its_commits_and_leaves_the_folder_as_it_was(tmp_path):
    from unibind.sqlite_wal import open_read_only

    path = _kb_with_a_wal_and_no_shm(tmp_path)
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    assert set(before) == {"kb.sqlite", "kb.sqlite-wal"}
    db, stamp = open_read_only(path)
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 2   # the commit only the -wal holds
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("INSERT INTO t VALUES (3)")
    copy = Path(db.execute("PRAGMA database_list").fetchone()[2])
    assert copy.parent != path.parent and copy.exists()
    db.close()
    assert not copy.parent.exists()             # the private copy goes with the connection
    assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == before
