"""Checks and conversions applied to every chunk of raw event columns, as they stream in.

The checker keeps what it needs across chunks (the last timestamp, the
polarity values seen, the largest coordinates, the event count), so a long
stream is checked completely without being held in memory. Every problem is
an :class:`InputError` that names the file, the field and the first event
that breaks the rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind_plugin_event.events import make_events
from unibind_plugin_event.settings import EventLoadSettings, sensor_too_large

#: Microseconds per unit of the file's timestamps.
TIME_SCALE = {"us": 1.0, "ms": 1e3, "s": 1e6, "ns": 1e-3}
INT64_MAX = np.iinfo(np.int64).max


class ChunkChecker:
    """Validates raw (x, y, t, p) columns chunk by chunk and converts them to :data:`EVENT_DTYPE`."""

    def __init__(self, path: Path, settings: EventLoadSettings, sensor_size: tuple[int, int] | None):
        self.path = path
        self.settings = settings
        self.sensor_size = sensor_size
        limit = settings.max_sensor_size
        if sensor_size is not None and sensor_too_large(sensor_size, limit):
            self.fail(f"the file states a {sensor_size[0]}x{sensor_size[1]} sensor, larger than "
                      f"max_sensor_size {limit[0]}x{limit[1]} (no event camera is that large); set "
                      "sensor_size or max_sensor_size if it is right")
        self.count = 0  # events checked so far: the index of the next chunk's first event
        self.last_t: int | None = None
        self.ordered = True
        self.polarities: set[int] = set()
        self.max_x = self.max_y = -1

    def fail(self, problem: str) -> None:
        raise InputError(self.path, problem)

    def check(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """One chunk of raw columns in, a checked structured array out."""
        lengths = {f: len(v) for f, v in columns.items()}
        if len(set(lengths.values())) != 1:
            self.fail(f"event fields differ in length near event {self.count}: {lengths}")
        x = self._coordinate(columns["x"], "x", 0)
        y = self._coordinate(columns["y"], "y", 1)
        t = self._timestamps(columns["t"])
        p = self._polarity(columns["p"])
        self._order(t)
        self.count += len(t)
        return make_events(x, y, t, p)

    # -- the rules -----------------------------------------------------------------------
    def _at(self, index: int) -> str:
        return f"event {self.count + int(index)}"

    def _coordinate(self, values: np.ndarray, name: str, axis: int) -> np.ndarray:
        values = np.asarray(values)
        kind = values.dtype.kind
        if kind == "f":
            bad = ~np.isfinite(values) | (values != np.floor(values))
            if bad.any():
                i = int(np.argmax(bad))
                self.fail(f"field {name!r} has non-integer value {values[i].item()} at {self._at(i)}: "
                          "coordinates are pixel indices")
        elif kind not in "iu":
            self.fail(f"field {name!r} has dtype {values.dtype}: coordinates must be integers (pixel indices)")
        if len(values) == 0:
            return values.astype(np.int32)
        low = values.min()
        if low < 0:
            i = int(np.argmax(values < 0))
            self.fail(f"negative {name} coordinate {values[i].item()} at {self._at(i)}")
        high = int(values.max())
        if self.sensor_size is not None and high >= self.sensor_size[axis]:
            i = int(np.argmax(values >= self.sensor_size[axis]))
            w, h = self.sensor_size
            self.fail(f"{name}={int(values[i])} at {self._at(i)} is outside the {w}x{h} sensor "
                      f"({name} must be below {self.sensor_size[axis]})")
        limit = self.settings.max_sensor_size
        if high >= limit[axis]:  # no size stated: the coordinates may not imply a sensor past the cap
            i = int(np.argmax(values >= limit[axis]))
            self.fail(f"{name}={int(values[i])} at {self._at(i)} is beyond max_sensor_size "
                      f"{limit[0]}x{limit[1]} and the file states no sensor size; set sensor_size "
                      "(or max_sensor_size) if the recording is right")
        if high > np.iinfo(np.int32).max:
            self.fail(f"{name} coordinate {high} is too large for any sensor")
        if axis == 0:
            self.max_x = max(self.max_x, high)
        else:
            self.max_y = max(self.max_y, high)
        return values.astype(np.int32)

    def _timestamps(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        kind = values.dtype.kind
        unit = self.settings.time_unit
        if kind in "iu":
            if kind == "u" and len(values) and values.max() > INT64_MAX:
                self.fail(f"timestamp {values.max()} does not fit in 64-bit microseconds")
            if unit in ("auto", "us"):
                return values.astype(np.int64)
            if unit == "ns":
                return values.astype(np.int64) // 1000
            return values.astype(np.int64) * int(TIME_SCALE[unit])
        if kind == "f":
            bad = ~np.isfinite(values)
            if bad.any():
                i = int(np.argmax(bad))
                self.fail(f"timestamp {values[i].item()} at {self._at(i)} is not a finite number")
            scale = TIME_SCALE["s" if unit == "auto" else unit]
            return np.round(values.astype(np.float64) * scale).astype(np.int64)
        self.fail(f"field 't' has dtype {values.dtype}: timestamps must be integers (microseconds) or floats "
                  "(seconds)")
        raise AssertionError  # unreachable: fail() raised

    def _polarity(self, values: np.ndarray) -> np.ndarray:
        """ON = 1, OFF = 0, from {0, 1}, {-1, 1}, booleans, or integral floats of those."""
        values = np.asarray(values)
        kind = values.dtype.kind
        if kind == "b":
            return values.astype(np.int8)
        if kind not in "iuf":
            self.fail(f"field 'p' has dtype {values.dtype}: polarity must be 0/1, -1/1 or boolean")
        seen = np.unique(values)
        odd = [v for v in seen.tolist() if v not in (-1, 0, 1)]
        if odd:
            i = int(np.argmax(np.isin(values, odd)))
            self.fail(f"polarity {values[i].item()} at {self._at(i)} is not one of 0/1 or -1/1")
        self.polarities.update(int(v) for v in seen)
        if {-1, 0} <= self.polarities:
            self.fail(f"polarity values {sorted(self.polarities)} mix the {{0, 1}} and {{-1, 1}} conventions")
        return (values > 0).astype(np.int8)

    def _order(self, t: np.ndarray) -> None:
        if len(t) == 0:
            return
        back_at, previous = None, None
        if self.last_t is not None and t[0] < self.last_t:
            back_at, previous = 0, self.last_t
        else:
            steps = np.flatnonzero(np.diff(t) < 0)
            if steps.size:
                back_at, previous = int(steps[0]) + 1, int(t[steps[0]])
        if back_at is not None:
            if self.settings.timestamp_order == "reject":
                self.fail(f"timestamps go backwards at {self._at(back_at)} (t={int(t[back_at])} after "
                          f"t={previous}); set timestamp_order='sort' to sort them")
            self.ordered = False
        self.last_t = int(t[-1]) if self.last_t is None else max(self.last_t, int(t[-1]))

    def inferred_sensor(self) -> tuple[int, int]:
        """The smallest sensor holding every event seen: largest x and y plus one."""
        return self.max_x + 1, self.max_y + 1
