"""Writes that survive a kill: write to a temporary file beside the target, then rename.

The file gets the mode an ordinary ``open(target, "w")`` would give it (0666 less the
umask, e.g. 0644 under umask 022), not the 0600 of ``tempfile.mkstemp``.

A kill -9 between the two leaves the temporary file behind. Its name carries
the host and process id of its writer (``.<target>.<host>.<pid>-<random>.tmp``),
so a later run can prove it is an orphan (same host, process gone) and
remove it with :func:`remove_stale_temps`; a temp of a live writer, or of
another host sharing the folder, is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_TEMP = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(folder: str | Path, *, recursive: bool = True) -> list[Path]:
    """Delete temporaries of :func:`atomic_path` left by dead writers of this host; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    host = _host()
    for path in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        match = _TEMP.match(path.name)
        if match is None or match["host"] != host or _alive(int(match["pid"])):
            continue
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:  # another cleaner was first
            pass
    return removed


def _umask() -> int:
    """The process umask: from /proc on Linux (no race), else by setting it and putting it back."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{_host()}.{os.getpid()}-",
                                suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # after the writer: some (safetensors) recreate the file 0600
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing; it becomes ``target`` only if the block succeeds."""
    with atomic_path(target) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh


def save_tensors(tensors: dict, target: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Save torch tensors as safetensors, atomically."""
    from safetensors.torch import save_file

    with atomic_path(target) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    return Path(target)


def save_figure(fig, target: str | Path, *, dpi: int = 110) -> Path:
    """Write a matplotlib figure atomically (a killed run leaves no half-drawn picture).

    PNG, or JPEG when ``target`` ends in ``.jpg`` (photos: a fraction of the size).
    """
    target = Path(target)
    jpeg = target.suffix.lower() in (".jpg", ".jpeg")
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="jpeg" if jpeg else "png", dpi=dpi, bbox_inches="tight",
                    **({"pil_kwargs": {"quality": 85, "optimize": True}} if jpeg else {}))
    return target
