"""What the columns of a plain table of numbers mean (XYZ/TXT files, NPY/NPZ arrays).

Such files carry no header, so the meaning is either given (``text_columns``)
or guessed: the first three columns are x y z, and each later triple is
normals when its rows are unit vectors, colours when it lies in 0..1 or is
integers in 0..255 (ModelNet's ``x,y,z,nx,ny,nz`` and Open3D's ``xyzrgb`` both
come out right). Anything else is ignored, never silently taken as geometry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind_plugin_pointcloud.cloud import colours_to_unit

#: Suffixes that say what the columns are (Open3D's conventions).
SUFFIX_COLUMNS = {
    ".xyzn": ("x", "y", "z", "nx", "ny", "nz"),
    ".xyzrgb": ("x", "y", "z", "r", "g", "b"),
}


def _is_unit(triple: np.ndarray) -> bool:
    norms = np.linalg.norm(triple[np.isfinite(triple).all(axis=1)], axis=1)
    return norms.size > 0 and bool((np.abs(norms - 1.0) < 1e-2).mean() > 0.95)


def _is_colour(triple: np.ndarray) -> bool:
    values = triple[np.isfinite(triple)]
    if values.size == 0 or values.min() < 0:
        return False
    return bool(values.max() <= 1.0 or (values.max() <= 255 and np.all(values == np.round(values))))


def guess_columns(table: np.ndarray) -> tuple[str, ...]:
    """Names of ``table``'s columns by the rule in the module docstring."""
    names = ["x", "y", "z"]
    rest = table.shape[1] - 3
    taken: set[str] = set()
    for start in range(3, 3 + rest - rest % 3, 3):
        triple = table[:, start:start + 3].astype(np.float64)
        if "normals" not in taken and _is_unit(triple):
            names += ["nx", "ny", "nz"]
            taken.add("normals")
        elif "colours" not in taken and _is_colour(triple):
            names += ["r", "g", "b"]
            taken.add("colours")
        else:
            names += ["-", "-", "-"]
    names += ["-"] * (table.shape[1] - len(names))
    return tuple(names)


def split_columns(path: Path, table: np.ndarray, names: tuple[str, ...] | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``[N, C]`` numbers to (points, normals or None, colours or None)."""
    if table.ndim != 2:
        raise InputError(path, f"expected a table of points [N, C], got shape {table.shape}")
    if table.shape[1] < 3:
        raise InputError(path, f"rows have {table.shape[1]} value(s); a point needs at least x y z")
    if names is None:
        names = guess_columns(table)
    elif len(names) != table.shape[1]:
        raise InputError(path, f"text_columns names {len(names)} columns, the data has {table.shape[1]}")
    where = {name: i for i, name in enumerate(names)}

    def pick(keys: tuple[str, str, str]) -> np.ndarray | None:
        if all(k in where for k in keys):
            return table[:, [where[k] for k in keys]]
        return None

    points = pick(("x", "y", "z"))
    assert points is not None  # the settings validator and guess_columns both guarantee x y z
    normals = pick(("nx", "ny", "nz"))
    colours = pick(("r", "g", "b"))
    if colours is not None:
        colours = colours_to_unit(colours)
    return points, normals, colours
