"""OFF meshes, the ModelNet format, including its quirks.

Many ModelNet files glue the keyword to the counts (``OFF490 540 0`` on one
line); that is read as well as the standard two-line header. Variants with
per-vertex normals (``NOFF``) and colours (``COFF``) are read; faces may be
polygons (fanned into triangles) and may carry colours (ignored).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind_plugin_pointcloud.cloud import PointCloud, colours_to_unit
from unibind_plugin_pointcloud.mesh import mesh_cloud, triangulate
from unibind_plugin_pointcloud.readers.text import CHUNK, data_lines, open_text, read_counted
from unibind_plugin_pointcloud.settings import PointCloudLoadSettings

KEYWORD = re.compile(r"^(ST)?(C)?(N)?(4)?(n)?OFF")
#: Meshes with more faces than this many times the point budget are sampled at their vertices.
FACES_PER_POINT = 4


def parse_header(path: Path, lines: Iterator[tuple[int, str]]) -> tuple[str, int, int]:
    """The keyword and the vertex and face counts, wherever the counts are."""
    first = next(lines, None)
    if first is None:
        raise InputError(path, "has no content")
    match = KEYWORD.match(first[1])
    if match is None:
        raise InputError(path, f"not an OFF file: line {first[0]} starts {first[1][:20]!r}, expected 'OFF'")
    keyword = match.group(0)
    if match.group(4) or match.group(5):
        raise InputError(path, f"{keyword}: 4-D and n-D OFF variants are not point clouds in 3-D")
    rest = first[1][match.end():].strip()
    if not rest:
        counts_line = next(lines, None)
        if counts_line is None:
            raise InputError(path, "ends after the OFF keyword; expected vertex, face and edge counts")
        rest = counts_line[1]
    try:
        counts = [int(v) for v in rest.split()]
    except ValueError:
        raise InputError(path, f"bad OFF counts {rest[:40]!r}: expected integers 'vertices faces edges'") from None
    if len(counts) < 2 or min(counts[:2]) < 0:
        raise InputError(path, f"bad OFF counts {rest[:40]!r}: expected 'vertices faces edges'")
    if counts[0] == 0:
        raise InputError(path, "declares 0 vertices")
    return keyword, counts[0], counts[1]


def read_faces(path: Path, lines: Iterator[tuple[int, str]], count: int, n_vertices: int) -> np.ndarray:
    """``count`` face lines (``k i1 .. ik [colour]``) to triangles."""
    triangles: list[np.ndarray] = []
    seen = 0
    while seen < count:
        chunk = list(itertools.islice(lines, min(CHUNK, count - seen)))
        if not chunk:
            raise InputError(path, f"file ends after {seen} of the {count} faces its header declares")
        seen += len(chunk)
        try:
            table = np.loadtxt([t for _, t in chunk], dtype=np.float64, ndmin=2)
        except ValueError:
            table = None
        if table is not None and table.shape[1] >= 4 and np.all(table[:, 0] == 3):
            tri = table[:, 1:4]
            if not np.all(tri == np.round(tri)):
                raise InputError(path, f"face indices must be integers (lines {chunk[0][0]}-{chunk[-1][0]})")
            triangles.append(tri.astype(np.int64))
            continue
        polygons = []
        for number, text in chunk:
            values = text.split()
            try:
                k = int(values[0])
                polygon = np.array([int(v) for v in values[1:1 + k]], dtype=np.int64)
            except ValueError:
                raise InputError(path, f"line {number} is not a face 'k i1 .. ik': {text[:60]!r}") from None
            if len(polygon) != k:
                raise InputError(path, f"line {number}: face says {k} vertices but lists {len(polygon)}")
            polygons.append(polygon)
        triangles.append(triangulate(path, polygons, n_vertices))
    return triangulate(path, np.concatenate(triangles) if triangles else np.empty((0, 3)), n_vertices)


def read_off(path: Path, settings: PointCloudLoadSettings) -> PointCloud:
    with open_text(path) as fh:
        lines = data_lines(fh)
        keyword, n_vertices, n_faces = parse_header(path, lines)
        table = read_counted(path, lines, n_vertices, settings.max_points, None, what="vertices")
        notes = {"format": "off", "vertices": str(n_vertices), "faces": str(n_faces)}
        cut = len(table) < n_vertices
        if cut:
            notes["cut"] = f"{len(table)} of {n_vertices} vertices (max_points)"
        use_faces = (settings.mesh_sampling == "surface" and n_faces > 0 and not cut
                     and n_faces <= FACES_PER_POINT * settings.max_points)
        triangles = read_faces(path, lines, n_faces, n_vertices) if use_faces else None
    if table.shape[1] < 3:
        raise InputError(path, f"vertex rows have {table.shape[1]} values; expected x y z")
    col = 3
    normals = colours = None
    if "N" in keyword:
        normals, col = table[:, 3:6], 6
    if keyword.startswith(("C", "STC")) and table.shape[1] >= col + 3:
        colours = colours_to_unit(table[:, col:col + 3])
    if normals is not None and normals.shape[1] != 3:
        raise InputError(path, f"{keyword} vertex rows need normals after x y z")
    return mesh_cloud(path, table[:, :3], normals, colours, triangles, settings, notes)
