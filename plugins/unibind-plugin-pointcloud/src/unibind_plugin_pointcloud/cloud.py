"""The point-cloud sample every reader returns, and the checks every reader shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unibind.errors import InputError

#: Largest coordinate magnitude taken as a measurement. Beyond it (a damaged file: bytes read as
#: float32 give values up to 3e38) squared distances overflow float32 and the embedding turns NaN,
#: so such points are dropped like NaN ones. Real scans, even in micrometres, stay far below.
MAX_COORDINATE = 1e15


@dataclass
class PointCloud:
    """Points ``[N, 3]`` float32, with optional unit normals ``[N, 3]`` and RGB colours ``[N, 3]`` in 0..1.

    Plain numpy arrays, so a cloud pickles cheaply into DataLoader workers.
    """

    points: np.ndarray
    normals: np.ndarray | None = None
    colors: np.ndarray | None = None
    #: Where it came from: format and anything the reader did (cut, sampled, dropped points).
    notes: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.points.shape[0])


def evenly_strided(count: int, budget: int) -> np.ndarray | slice:
    """Rows kept from ``count`` under a ``budget``: all of them, or ``budget`` evenly spaced ones."""
    if count <= budget:
        return slice(None)
    return np.linspace(0, count - 1, budget).round().astype(np.int64)


def finish(path: Path, points: np.ndarray, normals: np.ndarray | None = None, colors: np.ndarray | None = None,
           *, drop_non_finite: bool = True, min_points: int = 1, notes: dict[str, str] | None = None
           ) -> PointCloud:
    """Check shapes and values, drop non-finite points, and build the sample (or an InputError)."""
    notes = dict(notes or {})
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InputError(path, f"points must be [N, 3], got shape {points.shape}")
    if points.shape[0] == 0:
        raise InputError(path, "holds no points")
    if points.dtype.kind not in "fiu":
        raise InputError(path, f"coordinates must be numbers, got dtype {points.dtype}")
    points = points.astype(np.float32)
    for name, extra in (("normals", normals), ("colours", colors)):
        if extra is not None and np.shape(extra) != points.shape:
            raise InputError(path, f"{name} have shape {np.shape(extra)}, points {points.shape}")
    with np.errstate(invalid="ignore"):
        finite = (np.abs(points) <= MAX_COORDINATE).all(axis=1)  # False for NaN and infinities too
    bad = int((~finite).sum())
    if bad == len(points):
        raise InputError(path, f"every one of its {len(points)} points has a NaN, infinite or absurd "
                               f"(beyond ±{MAX_COORDINATE:g}) coordinate")
    if bad:
        if not drop_non_finite:
            raise InputError(path, f"{bad} of {len(points)} points have NaN, infinite or absurd "
                                   f"(beyond ±{MAX_COORDINATE:g}) coordinates (drop_non_finite is off)")
        points = points[finite]
        normals = None if normals is None else np.asarray(normals)[finite]
        colors = None if colors is None else np.asarray(colors)[finite]
        notes["dropped_non_finite"] = str(bad)
    if len(points) < min_points:
        raise InputError(path, f"has {len(points)} finite points, fewer than min_points={min_points}")
    if normals is not None:
        normals = np.nan_to_num(np.asarray(normals, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if colors is not None:
        colors = np.clip(np.nan_to_num(np.asarray(colors, dtype=np.float32)), 0.0, 1.0)
    return PointCloud(np.ascontiguousarray(points), normals, colors, notes)


def colours_to_unit(values: np.ndarray) -> np.ndarray:
    """Colour channels to 0..1: integer types by their range (uint8 /255, uint16 /65535), floats as given."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        top = 65535.0 if values.dtype.itemsize >= 2 and values.max(initial=0) > 255 else 255.0
        return values.astype(np.float32) / top
    values = values.astype(np.float32)
    return values / 255.0 if np.nanmax(values, initial=0) > 1.0 else values
