"""Rows of numbers from text, streamed in chunks and cut to a point budget.

Every text format here (XYZ/TXT, OFF, ASCII PCD) stores one point per line.
Lines are read in chunks and only the rows that survive the budget are parsed,
so a scan of a hundred million lines costs a pass over the file, not its size
in memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from unibind.errors import InputError
from unibind_plugin_pointcloud.cloud import evenly_strided

CHUNK = 65_536
COMMENTS = ("#", "//")


def data_lines(fh: Iterable[str], first_line_no: int = 1) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of lines that are neither blank nor comments."""
    for number, line in enumerate(fh, start=first_line_no):
        text = line.strip()
        if text and not text.startswith(COMMENTS):
            yield number, text


def _split(text: str) -> list[str]:
    return text.replace(",", " ").split()


def parse_rows(path: Path, rows: list[tuple[int, str]], width: int | None) -> np.ndarray:
    """Parse numbered lines into ``[len(rows), width]`` float64; a bad line is named in the error."""
    if not rows:
        return np.empty((0, width or 0))
    if width is None:
        width = len(_split(rows[0][1]))
    try:
        table = np.loadtxt([_split_join(t) for _, t in rows], dtype=np.float64, ndmin=2)
    except ValueError:
        table = None
    if table is None or table.shape != (len(rows), width):
        for number, text in rows:
            values = _split(text)
            if len(values) != width:
                raise InputError(path, f"line {number} has {len(values)} values, expected {width}: {text[:60]!r}")
            try:
                [float(v) for v in values]
            except ValueError:
                raise InputError(path, f"line {number} is not numbers: {text[:60]!r}") from None
        raise InputError(path, f"cannot parse lines {rows[0][0]}-{rows[-1][0]} as numbers")
    return table


def _split_join(text: str) -> str:
    return " ".join(_split(text))


def read_counted(path: Path, lines: Iterator[tuple[int, str]], count: int, budget: int,
                 width: int | None, what: str = "points") -> np.ndarray:
    """Exactly ``count`` rows (a header said how many); keep an evenly strided ``budget`` of them."""
    keep = evenly_strided(count, budget)
    wanted = None if isinstance(keep, slice) else keep
    parsed: list[np.ndarray] = []
    seen = 0
    while seen < count:
        chunk = list(itertools.islice(lines, min(CHUNK, count - seen)))
        if not chunk:
            raise InputError(path, f"file ends after {seen} of the {count} {what} its header declares")
        if wanted is not None:
            local = wanted[(wanted >= seen) & (wanted < seen + len(chunk))] - seen
            chunk_rows = [chunk[i] for i in local]
        else:
            chunk_rows = chunk
        if chunk_rows:
            table = parse_rows(path, chunk_rows, width)
            width = table.shape[1]
            parsed.append(table)
        seen += len(chunk)
    return np.concatenate(parsed) if parsed else np.empty((0, width or 3))


def read_uncounted(path: Path, lines: Iterator[tuple[int, str]], budget: int,
                   width: int | None = None) -> tuple[np.ndarray, int]:
    """Rows until the end of the file, nobody having said how many: keep at most ``budget``.

    Every ``stride``-th row is kept; when twice the budget is held, every other
    kept row is dropped and the stride doubles, so the kept rows stay evenly
    spread over the file whatever its length. Returns the rows and how many
    the file had.
    """
    stride, kept, total = 1, [], 0
    held = 0
    while True:
        chunk = list(itertools.islice(lines, CHUNK))
        if not chunk:
            break
        rows = [row for i, row in enumerate(chunk, start=total) if i % stride == 0]
        total += len(chunk)
        if rows:
            table = parse_rows(path, rows, width)
            width = table.shape[1]
            kept.append(table)
            held += len(table)
        while held >= 2 * budget:
            merged = np.concatenate(kept)[::2]
            kept, held, stride = [merged], len(merged), stride * 2
    table = np.concatenate(kept) if kept else np.empty((0, width or 3))
    if len(table) > budget:
        table = table[evenly_strided(len(table), budget)]
    return table, total


def open_text(path: Path) -> TextIO:
    """Text mode that refuses binary junk with a clear error instead of mojibake numbers."""
    return path.open("r", encoding="ascii", errors="strict", newline=None)
