"""One writer per space directory at a time.

Two ``unibind train --out SPACE`` (or a train and a ``calibrate fit --space SPACE``) running at
once would each write their own adapters, centres and records into one folder: every file is
written atomically, but the folder as a whole would mix two runs, and nothing would say so. A
writer therefore holds an exclusive lock on ``SPACE/.writer.lock`` (``filelock``: an OS lock,
released when the process ends, even by a kill) for as long as it reads what it fits on and
writes. A second writer fails at once with one line instead of waiting or mixing.

Readers (``classify``, ``eval``) take no lock: reading must not create files in a folder that
was only given to be read. What they need to notice a changed space (calibrator fingerprints,
stale centres) is in the files themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from unibind.errors import InputError

LOCK_NAME = ".writer.lock"


@contextlib.contextmanager
def writing_space(space_dir: str | Path, command: str) -> Iterator[Path]:
    """Hold the space's writer lock while the block runs; another writer holding it: :class:`InputError`."""
    from filelock import FileLock, Timeout

    space_dir = Path(space_dir)
    if space_dir.exists() and not space_dir.is_dir():
        raise InputError(space_dir, "is a file, not a space folder")
    created = not space_dir.exists()
    space_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(space_dir / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise InputError(space_dir, f"another unibind process is writing this space ({LOCK_NAME} is held), so "
                         f"{command} would mix its files with that run's; wait for it to finish, or write "
                         "to another folder") from None
    try:
        yield space_dir
    finally:
        # a run that wrote nothing (it failed first) leaves no folder it made behind
        if created and [p.name for p in space_dir.iterdir()] == [LOCK_NAME]:
            with contextlib.suppress(OSError):
                (space_dir / LOCK_NAME).unlink()
                space_dir.rmdir()
        lock.release()
