"""PCD (the Point Cloud Library's format): ASCII, binary and binary_compressed.

The header is parsed and validated by ``pypcd4`` (field names, sizes, types,
counts), which also decodes LZF-compressed data. ASCII and binary bodies are
read here so they can be cut to the point budget: binary is memory-mapped,
ASCII is streamed. Declared and actual point counts must agree: a truncated
file is an error, never a smaller cloud.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind_plugin_pointcloud.cloud import PointCloud, colours_to_unit, evenly_strided, finish
from unibind_plugin_pointcloud.readers.text import data_lines, read_counted
from unibind_plugin_pointcloud.settings import PointCloudLoadSettings

MAX_HEADER_BYTES = 1 << 16
FIRST_KEYS = ("VERSION", "FIELDS")
NORMAL_NAMES = (("normal_x", "normal_y", "normal_z"), ("nx", "ny", "nz"))
COLOUR_NAMES = (("r", "g", "b"), ("red", "green", "blue"))


def scan_header(path: Path) -> tuple[list[str], int]:
    """Header lines (comments dropped) up to and including DATA, and the byte offset of the body."""
    with path.open("rb") as fh:
        head = fh.read(MAX_HEADER_BYTES)
    lines: list[str] = []
    offset = 0
    for raw in head.splitlines(keepends=True):
        offset += len(raw)
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise InputError(path, "not a PCD file: its header is not ASCII text") from None
        if not text or text.startswith("#"):
            continue
        if not lines and not text.startswith(FIRST_KEYS):
            raise InputError(path, f"not a PCD file: expected a VERSION or FIELDS line, found {text[:30]!r}")
        lines.append(text)
        if text.startswith("DATA"):
            if not raw.endswith(b"\n"):
                raise InputError(path, "PCD header ends without a newline after DATA")
            return lines, offset
    raise InputError(path, "no DATA line in the PCD header: incomplete or not a PCD file")


#: Values one point may carry (the sum of COUNT): x, y, z, normals, colour and descriptors such as
#: VFH (308) or ESF (640) fit many times over.
MAX_VALUES_PER_POINT = 10_000


def _metadata(path: Path, lines: list[str]):
    from pydantic import ValidationError
    from pypcd4 import MetaData

    try:
        meta = MetaData.parse_header(lines)
    except (ValidationError, ValueError, KeyError) as exc:
        raise InputError(path, f"bad PCD header: {str(exc).splitlines()[0]}") from None
    if len({len(meta.fields), len(meta.size), len(meta.type), len(meta.count)}) != 1:
        raise InputError(path, "bad PCD header: FIELDS, SIZE, TYPE and COUNT have different lengths")
    if sum(int(c) for c in meta.count) > MAX_VALUES_PER_POINT or min(int(c) for c in meta.count) < 1:
        # pypcd4 names every element of a counted field: COUNT 2147483648 would hang building the dtype
        raise InputError(path, f"bad PCD header: COUNT {' '.join(map(str, meta.count))} gives "
                               f"{sum(int(c) for c in meta.count)} values per point (at most "
                               f"{MAX_VALUES_PER_POINT}; the largest PCL descriptors have a few hundred)")
    try:
        dtype = meta.build_dtype()
    except KeyError as exc:
        raise InputError(path, f"bad PCD header: unsupported TYPE/SIZE {exc}") from None
    return meta, dtype


def read_pcd(path: Path, settings: PointCloudLoadSettings) -> PointCloud:
    lines, offset = scan_header(path)
    meta, dtype = _metadata(path, lines)
    count = int(meta.points)
    if count == 0:
        raise InputError(path, "PCD declares 0 points")
    if not {"x", "y", "z"} <= set(dtype.names):
        raise InputError(path, f"PCD has no x, y, z fields (found {', '.join(meta.fields)})")
    encoding = meta.data.value
    keep = evenly_strided(count, settings.max_points)
    if encoding == "ascii":
        columns = _read_ascii(path, offset, count, dtype, settings.max_points)
    elif encoding == "binary":
        columns = _read_binary(path, offset, count, dtype, keep)
    else:
        columns = _read_compressed(path, count, settings.max_points)
    notes = {"format": f"pcd-{encoding}", "points": str(count)}
    if not isinstance(keep, slice):
        notes["cut"] = f"{settings.max_points} of {count} points (max_points)"
    return _to_cloud(path, columns, settings, notes)


def _read_ascii(path: Path, offset: int, count: int, dtype: np.dtype, budget: int) -> dict[str, np.ndarray]:
    with path.open("rb") as raw:
        raw.seek(offset)
        text = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
        table = read_counted(path, data_lines(text), count, budget, width=len(dtype.names))
    out = {}
    for i, name in enumerate(dtype.names):
        if dtype[name].kind == "f":
            out[name] = table[:, i].astype(dtype[name])
        else:
            out[name] = np.round(table[:, i]).astype(dtype[name])
    return out


def _read_binary(path: Path, offset: int, count: int, dtype: np.dtype, keep) -> dict[str, np.ndarray]:
    available = path.stat().st_size - offset
    needed = count * dtype.itemsize
    if available < needed:
        raise InputError(path, f"truncated: the header declares {count} points ({needed} bytes), "
                               f"the file holds {available // dtype.itemsize}")
    rows = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(count,))[keep]
    return {name: np.array(rows[name]) for name in dtype.names}


def _read_compressed(path: Path, count: int, budget: int) -> dict[str, np.ndarray]:
    if count > budget:
        raise InputError(path, f"LZF-compressed PCD with {count} points is above max_points={budget} and "
                               "cannot be read in part; save it as binary PCD or raise max_points")
    from pypcd4 import PointCloud as PcdCloud

    try:
        cloud = PcdCloud.from_path(path)
    except Exception as exc:  # noqa: BLE001 - lzf, struct and numpy errors all mean a damaged body
        raise InputError(path, f"cannot decompress the PCD body: {type(exc).__name__}: {exc}") from None
    data = np.atleast_1d(cloud.pc_data)
    if len(data) != count:
        raise InputError(path, f"truncated: the header declares {count} points, the body holds {len(data)}")
    return {name: np.asarray(data[name]) for name in data.dtype.names}


def _unpack_rgb(values: np.ndarray) -> np.ndarray:
    """PCL's packed colour (0x00RRGGBB in a float's or an int's bits) to ``[N, 3]`` in 0..1."""
    bits = values.astype(np.float32).view(np.uint32) if values.dtype.kind == "f" else values.astype(np.uint32)
    rgb = np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=1)
    return rgb.astype(np.float32) / 255.0


def _to_cloud(path: Path, columns: dict[str, np.ndarray], settings: PointCloudLoadSettings,
              notes: dict[str, str]) -> PointCloud:
    def triple(names: tuple[str, str, str]) -> np.ndarray | None:
        if set(names) <= set(columns):
            return np.stack([columns[n] for n in names], axis=1)
        return None

    points = triple(("x", "y", "z"))
    normals = next((t for t in (triple(n) for n in NORMAL_NAMES) if t is not None), None)
    colours = None
    for packed in ("rgb", "rgba"):
        if packed in columns:
            colours = _unpack_rgb(columns[packed])
            break
    else:
        found = next((t for t in (triple(n) for n in COLOUR_NAMES) if t is not None), None)
        colours = None if found is None else colours_to_unit(found)
    return finish(path, points, normals, colours, drop_non_finite=settings.drop_non_finite,
                  min_points=settings.min_points, notes=notes)
