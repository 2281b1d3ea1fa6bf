"""PLY: ASCII, binary little-endian and binary big-endian, with faces.

Written here rather than taken from ``plyfile`` because plyfile is GPL-3.0
and UniBind is Apache-2.0. The format is small: a text header of elements and
typed properties, then the elements in order. Binary elements of fixed size
(vertices, triangle faces) are memory-mapped, so a large scan is cut to the
point budget without loading it; ASCII vertices are streamed like the other
text formats. Only the ``vertex`` and ``face`` elements are used; others are
skipped.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind_plugin_pointcloud.cloud import PointCloud, colours_to_unit, evenly_strided
from unibind_plugin_pointcloud.mesh import mesh_cloud, triangulate
from unibind_plugin_pointcloud.readers.text import data_lines, read_counted
from unibind_plugin_pointcloud.settings import PointCloudLoadSettings

MAGIC = b"ply"
MAX_HEADER_BYTES = 1 << 16
FORMATS = {"ascii": "=", "binary_little_endian": "<", "binary_big_endian": ">"}
TYPES = {name: np.dtype(code) for names, code in (
    (("char", "int8"), "i1"), (("uchar", "uint8"), "u1"), (("short", "int16"), "i2"),
    (("ushort", "uint16"), "u2"), (("int", "int32"), "i4"), (("uint", "uint32"), "u4"),
    (("float", "float32"), "f4"), (("double", "float64"), "f8")) for name in names}
FACE_LISTS = ("vertex_indices", "vertex_index")
COLOUR_NAMES = (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue"))
NORMAL_NAMES = ("nx", "ny", "nz")


@dataclass
class Property:
    name: str
    dtype: np.dtype
    count_dtype: np.dtype | None = None  # set for list properties


@dataclass
class Element:
    name: str
    count: int
    properties: list[Property] = field(default_factory=list)

    @property
    def has_lists(self) -> bool:
        return any(p.count_dtype is not None for p in self.properties)

    def record(self, order: str) -> np.dtype:
        """The binary record of an element without lists."""
        return np.dtype([(p.name, p.dtype.newbyteorder(order)) for p in self.properties])


@dataclass
class Header:
    format: str
    elements: list[Element]
    body: int  # byte offset of the first element
    lines: int  # header lines, so errors in ASCII bodies can name file line numbers

    def element(self, name: str) -> Element | None:
        return next((e for e in self.elements if e.name == name), None)


def parse_header(path: Path) -> Header:
    with path.open("rb") as fh:
        head = fh.read(MAX_HEADER_BYTES)
    if not head.startswith(MAGIC):
        raise InputError(path, "not a PLY file: it does not start with 'ply'")
    fmt, elements, offset = "", [], 0
    for number, raw in enumerate(head.splitlines(keepends=True), start=1):
        offset += len(raw)
        try:
            words = raw.decode("ascii").split()
        except UnicodeDecodeError:
            raise InputError(path, f"PLY header line {number} is not ASCII text") from None
        if not words or words[0] in ("ply", "comment", "obj_info"):
            continue
        if words[0] == "end_header":
            break
        if words[0] == "format" and len(words) == 3:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append(Element(words[1], int(words[2])))
        elif words[0] == "property" and elements and _property(words) is not None:
            elements[-1].properties.append(_property(words))
        else:
            raise InputError(path, f"malformed PLY header line {number}: {raw.decode('ascii').strip()[:60]!r}")
    else:
        raise InputError(path, f"no 'end_header' in the first {MAX_HEADER_BYTES} bytes: not a complete PLY header")
    if fmt not in FORMATS:
        raise InputError(path, f"unknown PLY format {fmt!r} (expected ascii, binary_little_endian or "
                               "binary_big_endian)")
    return Header(fmt, elements, offset, number)


def _property(words: list[str]) -> Property | None:
    if len(words) == 3 and words[1] in TYPES:
        return Property(words[2], TYPES[words[1]])
    if len(words) == 5 and words[1] == "list" and words[2] in TYPES and words[3] in TYPES:
        return Property(words[4], TYPES[words[3]], TYPES[words[2]])
    return None


def read_ply(path: Path, settings: PointCloudLoadSettings) -> PointCloud:
    header = parse_header(path)
    vertex = header.element("vertex")
    if vertex is None:
        raise InputError(path, "PLY header declares no 'vertex' element")
    if vertex.count == 0:
        raise InputError(path, "PLY declares 0 vertices")
    names = [p.name for p in vertex.properties]
    if not {"x", "y", "z"} <= set(names):
        raise InputError(path, f"PLY vertices have no x, y, z properties (found {', '.join(names) or 'none'})")
    if vertex.has_lists:
        raise InputError(path, "PLY vertices with list properties are not supported")
    keep = evenly_strided(vertex.count, settings.max_points)
    want_faces = settings.mesh_sampling == "surface" and isinstance(keep, slice)
    reader = _read_ascii if header.format == "ascii" else _read_binary
    columns, faces = reader(path, header, keep, want_faces)
    notes = {"format": f"ply-{header.format}", "vertices": str(vertex.count)}
    if not isinstance(keep, slice):
        notes["cut"] = f"{settings.max_points} of {vertex.count} vertices (max_points)"
    with np.errstate(invalid="ignore", over="ignore"):  # damaged values are dropped by finish()
        points = np.stack([columns[k].astype(np.float64) for k in "xyz"], axis=1)
    normals = np.stack([columns[k] for k in NORMAL_NAMES], axis=1) if set(NORMAL_NAMES) <= set(columns) else None
    colours = None
    for triple in COLOUR_NAMES:
        if set(triple) <= set(columns):
            colours = colours_to_unit(np.stack([columns[k] for k in triple], axis=1))
            break
    triangles = triangulate(path, faces, vertex.count) if faces is not None else None
    return mesh_cloud(path, points, normals, colours, triangles, settings, notes)


# -- binary ------------------------------------------------------------------------------------

def _read_binary(path: Path, header: Header, keep, want_faces: bool):
    order = FORMATS[header.format]
    size = path.stat().st_size
    offset = header.body
    columns: dict[str, np.ndarray] | None = None
    faces = None
    for element in header.elements:
        if element.name == "face" and want_faces and _face_list(element) is not None:
            faces, offset = _binary_faces(path, element, order, offset, size)
            continue
        if element.has_lists:
            if columns is not None:
                break  # vertices are read, and nothing after this element is needed
            offset = _skip_lists(path, element, order, offset, size)
            continue
        record = element.record(order)
        needed = element.count * record.itemsize
        if offset + needed > size:
            raise InputError(path, f"truncated: element '{element.name}' needs {needed} bytes, "
                                   f"{max(size - offset, 0)} remain")
        if element.name == "vertex":
            rows = np.memmap(path, dtype=record, mode="r", offset=offset, shape=(element.count,))[keep]
            columns = {name: np.array(rows[name]) for name in record.names}
        offset += needed
    assert columns is not None  # the vertex element exists and has no lists
    return columns, faces


def _face_list(element: Element) -> Property | None:
    first = element.properties[0] if element.properties else None
    if first is not None and first.count_dtype is not None and first.name in FACE_LISTS:
        return first
    return None


def _binary_faces(path: Path, element: Element, order: str, offset: int, size: int):
    """Faces as triangles ``[F, 3]`` (memory-mapped when all are triangles) or a list of polygons."""
    prop = _face_list(element)
    rest = [(p.name, p.dtype.newbyteorder(order)) for p in element.properties[1:] if p.count_dtype is None]
    if len(rest) == len(element.properties) - 1:  # one list: try triangles, memory-mapped
        triangle = np.dtype([("n", prop.count_dtype.newbyteorder(order)),
                             ("v", prop.dtype.newbyteorder(order), (3,)), *rest])
        needed = element.count * triangle.itemsize
        if offset + needed <= size:
            rows = np.memmap(path, dtype=triangle, mode="r", offset=offset, shape=(element.count,))
            if np.all(rows["n"] == 3):
                return np.array(rows["v"], dtype=np.int64), offset + needed
    return _read_list_rows(path, element, order, offset, size)


def _read_list_rows(path: Path, element: Element, order: str, offset: int, size: int):
    """Element rows one by one (lists of any length); returns the first list of each row."""
    lists: list[np.ndarray] = []
    with path.open("rb") as fh:
        fh.seek(offset)
        for row in range(element.count):
            first = None
            for prop in element.properties:
                if prop.count_dtype is None:
                    _exactly(path, fh, prop.dtype.newbyteorder(order), 1, element, row)
                    continue
                n = int(_exactly(path, fh, prop.count_dtype.newbyteorder(order), 1, element, row)[0])
                values = _exactly(path, fh, prop.dtype.newbyteorder(order), n, element, row)
                if first is None:
                    first = values.astype(np.int64)
            lists.append(first)
        return lists, fh.tell()


def _exactly(path: Path, fh, dtype: np.dtype, n: int, element: Element, row: int) -> np.ndarray:
    data = fh.read(dtype.itemsize * n)
    if len(data) != dtype.itemsize * n:
        raise InputError(path, f"truncated: file ends in row {row} of element '{element.name}'")
    return np.frombuffer(data, dtype=dtype, count=n)


def _skip_lists(path: Path, element: Element, order: str, offset: int, size: int) -> int:
    return _read_list_rows(path, element, order, offset, size)[1]


# -- ASCII ---------------------------------------------------------------------------------------

def _read_ascii(path: Path, header: Header, keep, want_faces: bool):
    budget = len(keep) if not isinstance(keep, slice) else header.element("vertex").count
    columns, faces = None, None
    with path.open("rb") as raw:
        raw.seek(header.body)
        text = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
        lines = data_lines(text, header.lines + 1)
        for element in header.elements:
            if element.name == "vertex":
                table = read_counted(path, lines, element.count, budget, width=len(element.properties),
                                     what="vertices")
                columns = {p.name: (table[:, i] if p.dtype.kind == "f" else np.round(table[:, i])).astype(p.dtype)
                           for i, p in enumerate(element.properties)}
            elif element.name == "face" and want_faces and _face_list(element) is not None:
                from unibind_plugin_pointcloud.readers.off import read_faces

                vertex = header.element("vertex")
                faces = read_faces(path, lines, element.count, vertex.count)
            elif columns is not None:
                break
            else:
                for _ in itertools.islice(lines, element.count):
                    pass
    return columns, faces
