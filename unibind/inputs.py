"""Files and folders, as users hand them over, turned into the list of files to read.

One function, used by every command that takes files, so that ``unibind embed``,
``unibind classify`` and the plugins' commands agree on what a folder means:

- a file given by name is read, whatever its suffix (its loader judges it);
- a folder expands recursively to the files whose name ends in a suffix the
  modality claims (any modality's, when none is named; ``walk.imu.csv`` matches
  ``.imu.csv``); when the modality is named and the folder holds none of its
  suffixes, to every regular file in it (a folder of plain ``.csv`` recordings);
- files a folder held but that were not taken are counted, and the commands say
  so on stderr (never a silent drop);
- hidden names (``.DS_Store``, ``.git/``) are never inputs;
- a dangling symlink or a missing path is reported, not silently dropped;
- nothing left to read is an error that says what the folders held.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unibind.errors import UniBindError
from unibind.results import Failure


class NoInputsError(UniBindError, ValueError):
    """The inputs named no file to read."""


@dataclass
class Inputs:
    """What ``expand_inputs`` found: files to read, paths reported as skipped, suffixes it passed over."""

    files: list[Path] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)
    ignored: Counter = field(default_factory=Counter)

    def ignored_note(self) -> str | None:
        """One line naming the files a folder held that no modality reads (None when there were none)."""
        if not self.ignored:
            return None
        total = sum(self.ignored.values())
        kinds = ", ".join(f"{suffix or '(no suffix)'} x{n}" for suffix, n in self.ignored.most_common(5))
        return (f"ignored {total} file(s) in the folders whose suffix is not claimed ({kinds}); "
                "give them as files, or name the modality for a folder of them alone, to read them")


def claimed_suffixes(registry: Any, modality: str | None = None) -> tuple[str, ...]:
    """The suffixes one modality (or every modality) claims, lower-case and dotted."""
    specs = [registry.get("modality", modality)] if modality else registry.by_kind("modality")
    return tuple(s for spec in specs for s in getattr(spec, "suffixes", ()))


def expand_inputs(items: Iterable[str | Path], registry: Any, modality: str | None = None) -> Inputs:
    """Expand files and folders into the files to read; raise ``NoInputsError`` when none is left."""
    suffixes = claimed_suffixes(registry, modality)  # an unknown modality is the error to report
    found = Inputs()
    for item in map(Path, items):
        if item.is_dir():
            _walk(item, suffixes, found, every_file_if_none_match=modality is not None)
        elif item.is_file():
            found.files.append(item)
        else:
            found.skipped.append(_missing(item))
    if not found.files:
        raise NoInputsError(_nothing_to_read(found, modality))
    return found


def _walk(root: Path, suffixes: tuple[str, ...], found: Inputs, every_file_if_none_match: bool) -> None:
    claimed, unclaimed = [], []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if not path.exists():
                found.skipped.append(_missing(path))
            elif path.is_file():  # not a socket or a fifo
                (claimed if _claimed(name.lower(), suffixes) else unclaimed).append(path)
    if every_file_if_none_match and not claimed:
        found.files += unclaimed
        return
    found.files += claimed
    for path in unclaimed:
        found.ignored["".join(path.suffixes[-1:]).lower()] += 1


def _claimed(name: str, suffixes: tuple[str, ...]) -> bool:
    return any(name.endswith(s) and len(name) > len(s) for s in suffixes)


def _missing(path: Path) -> Failure:
    if path.is_symlink():
        target = os.readlink(path)
        return Failure(source=str(path), reason=f"dangling symlink (to {target}, which does not exist)")
    return Failure(source=str(path), reason="no such file or folder")


def _nothing_to_read(found: Inputs, modality: str | None) -> str:
    if found.skipped:
        first = found.skipped[0]
        more = f" (and {len(found.skipped) - 1} more)" if len(found.skipped) > 1 else ""
        return f"no input files: {first.source}: {first.reason}{more}"
    if found.ignored:
        return f"no input files: {found.ignored_note()}"
    return "no input files: the folders given are empty"
