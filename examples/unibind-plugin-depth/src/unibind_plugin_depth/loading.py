"""The depth loader: one file in, a float32 map in metres out (NaN where invalid).

Two formats, told apart by their first bytes rather than by the file name:

- ``.npy``: float arrays are metres, integer arrays are sensor units
  (``units_per_metre``). Read with ``allow_pickle=False`` after checking the
  header, so an object array in a user's file is refused, never unpickled.
- PNG: 16-bit greyscale in sensor units, as Kinect, NYU Depth v2 and TUM
  RGB-D store depth. 8-bit and colour PNGs are photos, not depth: refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind.modality import Modality
from unibind_plugin_depth.settings import DepthSettings

NPY_MAGIC = b"\x93NUMPY"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: PIL modes of a single-channel image with at least 16 bits per pixel.
DEPTH_PNG_MODES = ("I;16", "I;16B", "I;16L", "I")


class DepthModality(Modality):
    """Reads depth maps; every problem becomes an InputError naming the file."""

    name = "depth"

    def __init__(self, settings: DepthSettings | None = None):
        super().__init__(settings or DepthSettings())
        self.settings: DepthSettings

    def read(self, path: Path) -> np.ndarray:
        with path.open("rb") as fh:
            head = fh.read(len(PNG_MAGIC))
        if head.startswith(NPY_MAGIC):
            raw = _read_npy(path)
        elif head == PNG_MAGIC:
            raw = _read_png(path)
        else:
            raise InputError(path, "neither a .npy array nor a PNG image")
        return self.to_metres(path, raw)

    def to_metres(self, path: str | Path, raw: np.ndarray) -> np.ndarray:
        """Scale ``raw`` to metres and mark invalid readings NaN; refuse maps with no valid pixel.

        Floats are metres already; integers are sensor units (``units_per_metre``).
        ``path`` only names the source in errors.
        """
        if raw.ndim != 2:
            raise InputError(path, f"a depth map must be 2-D (height, width), got shape {raw.shape}")
        if raw.size == 0:
            raise InputError(path, f"depth map has no pixels (shape {raw.shape})")
        kind = raw.dtype.kind
        if not (kind == "f" or (kind in "iu" and raw.dtype.itemsize >= 2)):
            raise InputError(path, f"unsupported depth dtype {raw.dtype}: expected float metres "
                                   "or integer sensor units of 16 bits or more")
        s = self.settings
        values = raw.astype(np.float64)
        invalid = ~np.isfinite(values) | (values == s.invalid_value)
        metres = values if kind == "f" else values / s.units_per_metre
        with np.errstate(invalid="ignore"):
            invalid |= (metres < s.min_depth) | (metres > s.max_depth)
        if invalid.all():
            raise InputError(path, f"no valid depth: every pixel is NaN, {s.invalid_value:g} (no reading) "
                                   f"or outside {s.min_depth:g}-{s.max_depth:g} m")
        out = metres.astype(np.float32)
        out[invalid] = np.nan
        return out


def _read_npy(path: Path) -> np.ndarray:
    """Check the header first, so an object array is refused before any byte of it is decoded."""
    with path.open("rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        except ValueError as exc:
            raise InputError(path, f"not a valid .npy header: {exc}") from exc
    if dtype.hasobject:
        raise InputError(path, "holds Python objects (a pickle); refusing to unpickle a user's file")
    if len(shape) != 2:
        raise InputError(path, f"a depth map must be 2-D (height, width), got shape {shape}")
    return np.load(path, allow_pickle=False)


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        if image.mode not in DEPTH_PNG_MODES:
            raise InputError(path, f"not a 16-bit depth PNG (mode {image.mode}); 8-bit and colour PNGs "
                                   "are photos: use the image modality")
        return np.asarray(image)
