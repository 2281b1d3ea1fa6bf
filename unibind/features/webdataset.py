"""WebDataset tar shards as inputs: members streamed in order, grouped into samples by key.

The format large multimodal corpora ship in: ``sample0001.jpg``,
``sample0001.wav``, ``sample0001.txt`` ... side by side in a tar, a sample
being the members that share a key (the name up to the first dot). Read with
the ``webdataset`` library, one member at a time (never the whole tar), and
kept when the member's extension belongs to the modality asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from unibind.errors import InputError

SUFFIXES = (".tar",)


def is_shard(path: str | Path) -> bool:
    return Path(path).name.lower().endswith(SUFFIXES) and Path(path).is_file()


@dataclass(frozen=True)
class Member:
    """One member of a sample: where it came from, its extension, its bytes."""

    source: str  # "<shard>#<key>.<ext>", what results and failures are reported under
    key: str
    ext: str
    data: bytes


def iter_members(shard: str | Path, suffixes: Sequence[str]) -> Iterator[Member]:
    """Members of ``shard`` whose extension ends with one of ``suffixes`` (e.g. ``.jpg``), in tar order."""
    import webdataset as wds

    wanted = tuple(s.lower() for s in suffixes)
    dataset = wds.WebDataset(str(shard), shardshuffle=False, nodesplitter=None, workersplitter=None,
                             empty_check=False)
    try:
        for sample in dataset:
            key = sample["__key__"]
            for ext, data in sample.items():
                if ext.startswith("__") or not f".{ext}".lower().endswith(wanted):
                    continue
                yield Member(f"{shard}#{key}.{ext}", key, ext, data)
    except Exception as exc:
        detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise InputError(shard, f"unreadable WebDataset shard: {type(exc).__name__}: {detail}") from exc
