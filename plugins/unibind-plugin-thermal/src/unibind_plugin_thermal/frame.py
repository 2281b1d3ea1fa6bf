"""One thermal sample: the file's numbers, what they mean, and how to read them as kelvin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["counts", "kelvin", "intensity"]


@dataclass(frozen=True, eq=False)  # arrays have no single truth value: compare .values
class ThermalFrame:
    """A single-channel thermal image as the loader found it.

    ``values`` is ``[H, W]``:

    - ``kind="counts"``: the stored integers, unchanged (``uint8`` or ``uint16``);
      ``bit_depth`` is 8 or 16. For 16-bit data ``calibration`` is the
      ``(kelvin_scale, kelvin_offset)`` the loader was told, so a fixed
      temperature window can still be applied to raw counts.
    - ``kind="kelvin"``: temperatures (``float32``).
    - ``kind="intensity"``: ``float32`` in [0, 1], recovered from a colour
      rendering (colour-map inversion or luminance): relative, not radiometric.
    """

    values: np.ndarray
    kind: Kind
    bit_depth: int
    calibration: tuple[float, float] | None = None
    #: How it was read, e.g. "PNG 16-bit grey" or "TIFF RGB, inferno inverted".
    source: str = ""

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"a thermal frame is 2-D, got shape {self.values.shape}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape  # type: ignore[return-value]

    def kelvin(self) -> np.ndarray | None:
        """Temperatures in kelvin (float32), or ``None`` when the frame holds none."""
        if self.kind == "kelvin":
            return self.values.astype(np.float32, copy=False)
        if self.kind == "counts" and self.calibration is not None:
            scale, offset = self.calibration
            return (self.values.astype(np.float32) * np.float32(scale) + np.float32(offset)).astype(np.float32)
        return None

    @classmethod
    def from_array(cls, values: np.ndarray, *, calibration: tuple[float, float] | None = None) -> ThermalFrame:
        """Wrap an array: 8/16-bit unsigned integers are counts, floats are kelvin."""
        values = np.asarray(values)
        if values.dtype == np.uint8:
            return cls(values, "counts", 8, source="array uint8")
        if values.dtype == np.uint16:
            return cls(values, "counts", 16, calibration=calibration, source="array uint16")
        if values.dtype.kind == "f":
            return cls(values.astype(np.float32), "kelvin", 32, source=f"array {values.dtype}")
        raise TypeError(f"expected uint8/uint16 counts or float kelvin, got dtype {values.dtype}")
