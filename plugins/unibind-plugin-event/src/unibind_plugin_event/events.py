"""The one in-memory form of an event stream, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


#: Field order x, y, t, p, as tonic's readers and transforms expect; p is 1 = ON, 0 = OFF.
#: int32 coordinates fit every sensor; int8 polarity (not bool) lets tonic's voxel grid map 0 to -1.
EVENT_DTYPE = np.dtype([("x", "<i4"), ("y", "<i4"), ("t", "<i8"), ("p", "i1")])


def make_events(x, y, t, p) -> np.ndarray:
    """A structured array in :data:`EVENT_DTYPE` from four columns."""
    out = np.empty(len(t), dtype=EVENT_DTYPE)
    out["x"], out["y"], out["t"], out["p"] = x, y, t, p
    return out


@dataclass(frozen=True)
class EventStream:
    """Validated events, sorted by time, with the sensor they were recorded on.

    ``events`` has :data:`EVENT_DTYPE`; ``t`` is microseconds (absolute, as in
    the file); ``sensor_size`` is (width, height); ``events_in_file`` counts
    the events read, and ``note`` says how the stream was cut when it was.
    """

    events: np.ndarray
    sensor_size: tuple[int, int]
    source: str = ""
    events_in_file: int = 0
    note: str = ""

    def __len__(self) -> int:
        return len(self.events)

    @property
    def width(self) -> int:
        return self.sensor_size[0]

    @property
    def height(self) -> int:
        return self.sensor_size[1]

    @property
    def duration_us(self) -> int:
        return int(self.events["t"][-1] - self.events["t"][0]) if len(self.events) else 0

    @classmethod
    def from_array(cls, events: np.ndarray, sensor_size: tuple[int, int] | None = None,
                   source: str = "") -> EventStream:
        """Wrap an in-memory array (x, y, t in us, p) whose times are ordered; p > 0 is ON; sensor inferred.

        Files go through the loader, which checks everything; this only converts.
        """
        events = np.asarray(events)
        clean = make_events(events["x"], events["y"], events["t"], np.asarray(events["p"]) > 0)
        if sensor_size is None:
            sensor_size = (int(clean["x"].max()) + 1, int(clean["y"].max()) + 1) if len(clean) else (1, 1)
        return cls(clean, (int(sensor_size[0]), int(sensor_size[1])), source, len(clean))

    def __repr__(self) -> str:
        note = f", {self.note}" if self.note else ""
        return (f"EventStream({len(self)} events, {self.width}x{self.height}, "
                f"{self.duration_us / 1000:.1f} ms{note})")
