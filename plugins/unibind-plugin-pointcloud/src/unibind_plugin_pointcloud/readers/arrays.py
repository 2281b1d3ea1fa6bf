"""NumPy files: ``.npy`` arrays and ``.npz`` archives, never unpickled.

An array is a table ``[N, C]`` (columns as in :mod:`.columns`) or a
structured array with fields x, y, z (and nx.., red..). An archive holds the
points under ``points``/``xyz``/``pos``/``data`` (or as its only array), with
optional ``normals`` and ``colors``/``colours``/``rgb`` beside them. Headers
are checked before any data is read: object arrays are refused, ``.npy`` is
memory-mapped and ``.npz`` members are streamed, so the point budget holds.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from unibind.errors import InputError
from unibind_plugin_pointcloud.cloud import PointCloud, colours_to_unit, evenly_strided, finish
from unibind_plugin_pointcloud.readers.columns import split_columns
from unibind_plugin_pointcloud.settings import PointCloudLoadSettings

POINT_KEYS = ("points", "xyz", "pos", "data", "pc", "point_cloud")
NORMAL_KEYS = ("normals", "normal", "norm")
COLOUR_KEYS = ("colors", "colours", "color", "colour", "rgb")
CHUNK_ROWS = 65_536


def _header(path: Path, fh: IO[bytes], where: str = "") -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"{where}not a valid .npy header: {exc}") from None
    if dtype.hasobject:
        raise InputError(path, f"{where}holds Python objects (a pickle); refusing to unpickle a user's file")
    return shape, fortran, dtype


def _read_rows(path: Path, fh: IO[bytes], shape: tuple[int, ...], fortran: bool, dtype: np.dtype,
               budget: int, where: str = "") -> np.ndarray:
    """The array after a header: all of it, or an evenly strided ``budget`` of its rows, streamed."""
    if not shape or len(shape) > 2:
        raise InputError(path, f"{where}expected an array of points [N, C], got shape {shape}")
    rows = shape[0]
    per_row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    keep = evenly_strided(rows, budget)
    if fortran and isinstance(keep, slice):
        data = _exactly(path, fh, rows * per_row, dtype, where)
        return data.reshape(shape, order="F")
    if fortran:
        raise InputError(path, f"{where}Fortran-ordered array above max_points={budget} cannot be streamed")
    if isinstance(keep, slice):
        return _exactly(path, fh, rows * per_row, dtype, where).reshape(shape)
    out = []
    for start in range(0, rows, CHUNK_ROWS):
        stop = min(rows, start + CHUNK_ROWS)
        block = _exactly(path, fh, (stop - start) * per_row, dtype, where).reshape((stop - start,) + shape[1:])
        local = keep[(keep >= start) & (keep < stop)] - start
        out.append(block[local])
    return np.concatenate(out)


def _exactly(path: Path, fh: IO[bytes], items: int, dtype: np.dtype, where: str) -> np.ndarray:
    want = items * dtype.itemsize
    data = fh.read(want)
    if len(data) != want:
        raise InputError(path, f"{where}truncated: the header promises {want} bytes of data, found {len(data)}")
    return np.frombuffer(data, dtype=dtype, count=items)


def _to_cloud(path: Path, array: np.ndarray, settings: PointCloudLoadSettings, extras: dict[str, np.ndarray],
              notes: dict[str, str]) -> PointCloud:
    if array.dtype.names:
        names = set(array.dtype.names)
        if not {"x", "y", "z"} <= names:
            raise InputError(path, f"structured array has no x, y, z fields (found {', '.join(array.dtype.names)})")
        table = {n: array[n] for n in array.dtype.names}
        points = np.stack([table[k] for k in "xyz"], axis=1)
        normals = np.stack([table[k] for k in ("nx", "ny", "nz")], axis=1) if {"nx", "ny", "nz"} <= names else None
        colours = None
        for triple in (("red", "green", "blue"), ("r", "g", "b")):
            if set(triple) <= names:
                colours = colours_to_unit(np.stack([table[k] for k in triple], axis=1))
                break
    else:
        if array.dtype.kind not in "fiu":
            raise InputError(path, f"points must be numbers, got dtype {array.dtype}")
        points, normals, colours = split_columns(path, array, settings.text_columns)
    if "normals" in extras:
        normals = extras["normals"]
    if "colours" in extras:
        colours = colours_to_unit(extras["colours"])
    return finish(path, points, normals, colours, drop_non_finite=settings.drop_non_finite,
                  min_points=settings.min_points, notes=notes)


def read_npy(path: Path, settings: PointCloudLoadSettings) -> PointCloud:
    with path.open("rb") as fh:
        shape, fortran, dtype = _header(path, fh)
        array = _read_rows(path, fh, shape, fortran, dtype, settings.max_points)
    notes = {"format": "npy"}
    if shape and len(array) < shape[0]:
        notes["cut"] = f"{len(array)} of {shape[0]} points (max_points)"
    return _to_cloud(path, array, settings, {}, notes)


def read_npz(path: Path, settings: PointCloudLoadSettings) -> PointCloud:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(path, f"not a valid .npz archive: {exc}") from None
    with archive:
        members = {Path(n).stem: n for n in archive.namelist() if n.endswith(".npy")}
        if not members:
            raise InputError(path, "the .npz archive holds no arrays")
        key = next((k for k in POINT_KEYS if k in members), None)
        if key is None:
            if len(members) != 1:
                raise InputError(path, f"no points array: expected one of {', '.join(POINT_KEYS)} "
                                       f"(found {', '.join(sorted(members))})")
            key = next(iter(members))

        def load(name: str, rows: int | None) -> np.ndarray:
            where = f"array {name!r}: "
            try:
                with archive.open(members[name]) as fh:
                    shape, fortran, dtype = _header(path, fh, where)
                    if rows is not None and shape and shape[0] != rows:
                        raise InputError(path, f"{where}has {shape[0]} rows, the points {rows}")
                    return _read_rows(path, fh, shape, fortran, dtype, settings.max_points, where)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:  # a damaged member (bad CRC, cut off)
                raise InputError(path, f"{where}damaged archive member: {exc}") from None

        with archive.open(members[key]) as fh:
            shape = _header(path, fh)[0]
        points = load(key, None)
        extras = {}
        for role, keys in (("normals", NORMAL_KEYS), ("colours", COLOUR_KEYS)):
            found = next((k for k in keys if k in members), None)
            if found is not None:
                extras[role] = load(found, shape[0] if shape else None)
    notes = {"format": "npz", "array": key}
    if shape and len(points) < shape[0]:
        notes["cut"] = f"{len(points)} of {shape[0]} points (max_points)"
    return _to_cloud(path, points, settings, extras, notes)
