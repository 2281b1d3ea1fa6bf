"""XYZ / TXT / PTS: one point per line, values separated by spaces or commas.

Covers ModelNet40's ``x,y,z,nx,ny,nz`` text files, Open3D's ``.xyz``,
``.xyzn`` and ``.xyzrgb``, and ``.pts`` files that open with a point count.
A first line of column names (``x y z``, as many as there are values) is skipped.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from unibind.errors import InputError
from unibind_plugin_pointcloud.cloud import PointCloud, finish
from unibind_plugin_pointcloud.readers.columns import SUFFIX_COLUMNS, split_columns
from unibind_plugin_pointcloud.readers.text import data_lines, open_text, read_uncounted
from unibind_plugin_pointcloud.settings import PointCloudLoadSettings

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_./]*$")


def _numbers(text: str) -> list[float] | None:
    try:
        return [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        return None


def _is_column_header(head: list[tuple[int, str]]) -> bool:
    """A first line of names, one per value of the next line (``x y z nx ny nz``), not junk."""
    if len(head) < 2 or _numbers(head[0][1]) is not None:
        return False
    names = head[0][1].replace(",", " ").split()
    values = _numbers(head[1][1])
    return values is not None and len(names) == len(values) and all(NAME.match(n) for n in names)


def read_xyz(path: Path, settings: PointCloudLoadSettings) -> PointCloud:
    with open_text(path) as fh:
        lines = data_lines(fh)
        head = list(itertools.islice(lines, 2))
        if not head:
            raise InputError(path, "has no data lines (only blanks or comments)")
        notes = {"format": "xyz"}
        if _is_column_header(head):
            notes["header"] = head[0][1][:80]
            head = head[1:] + list(itertools.islice(lines, 1))
        first = _numbers(head[0][1]) if head else None
        if head and first is not None and len(first) == 1 and float(first[0]).is_integer() and len(head) > 1:
            notes["declared_points"] = str(int(first[0]))  # a .pts count line
            head = head[1:]
        if not head:
            raise InputError(path, "has a header but no points")
        table, total = read_uncounted(path, itertools.chain(head, lines), settings.max_points)
    if total > len(table):
        notes["cut"] = f"{len(table)} of {total} points (max_points)"
    names = settings.text_columns or SUFFIX_COLUMNS.get(path.suffix.lower())
    points, normals, colours = split_columns(path, table, names)
    return finish(path, points, normals, colours, drop_non_finite=settings.drop_non_finite,
                  min_points=settings.min_points, notes=notes)
