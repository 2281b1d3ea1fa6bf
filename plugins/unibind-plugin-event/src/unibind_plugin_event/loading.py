"""The event loader: one file in, one validated :class:`EventStream` out.

Reading goes chunk by chunk (see :mod:`readers`), each chunk checked (see
:mod:`validate`) and cut to the optional time window. The events kept stay
within the memory budget: a longer stream keeps every k-th event ('spread',
k doubling whenever the budget fills, so no total need be known) or its first
events ('first', which stops reading).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind.modality import Modality
from unibind_plugin_event.events import EVENT_DTYPE, EventStream
from unibind_plugin_event.readers import open_source
from unibind_plugin_event.settings import EventLoadSettings
from unibind_plugin_event.validate import ChunkChecker


class EventModality(Modality):
    """Reads event-camera recordings; every problem becomes an InputError naming the file."""

    name = "event"

    def __init__(self, settings: EventLoadSettings | None = None):
        super().__init__(settings or EventLoadSettings())
        self.settings: EventLoadSettings

    def read(self, path: Path) -> EventStream:
        s = self.settings
        with open_source(path, s) as source:
            # a sensor size in the settings wins over the one the file states
            checker = ChunkChecker(path, s, s.sensor_size or source.sensor_size)
            window = _Window(s)
            keeper = _Keeper(s.max_events, s.long_streams, None if window.active else source.total)
            for columns in source.chunks(s.chunk_events):
                start = checker.count
                events = checker.check(columns)
                index = np.arange(start, start + len(events))
                events, index, past_end = window.cut(events, index, checker.ordered)
                if not keeper.add(events, index) or (past_end and s.timestamp_order == "reject"):
                    break
        if checker.count == 0:
            raise InputError(path, "the file holds no events")
        events = keeper.result()
        if len(events) == 0:
            raise InputError(path, f"no events in the time window {window.describe()} "
                                   f"({checker.count} events in the file)")
        if not checker.ordered:
            events = events[np.argsort(events["t"], kind="stable")]
        sensor = s.sensor_size or source.sensor_size or checker.inferred_sensor()
        notes = [n for n in (keeper.note(checker.count), window.note(), "" if checker.ordered else "sorted by time")
                 if n]
        return EventStream(events, (int(sensor[0]), int(sensor[1])), str(path), checker.count, "; ".join(notes))


class _Window:
    """The optional time window, relative to the stream's first event."""

    def __init__(self, settings: EventLoadSettings):
        self.start = settings.window_start_us
        self.duration = settings.window_duration_us
        self.t0: int | None = None

    @property
    def active(self) -> bool:
        return self.start is not None or self.duration is not None

    def cut(self, events: np.ndarray, index: np.ndarray, ordered: bool) -> tuple[np.ndarray, np.ndarray, bool]:
        """Events inside the window, their file indices, and whether an ordered stream has passed its end."""
        if not self.active or len(events) == 0:
            return events, index, False
        if self.t0 is None:
            self.t0 = int(events["t"][0])
        low = self.t0 + (self.start or 0)
        high = low + self.duration if self.duration is not None else None
        t = events["t"]
        keep = t >= low
        if high is not None:
            keep &= t < high
        past_end = ordered and high is not None and int(t[-1]) >= high
        return events[keep], index[keep], past_end

    def describe(self) -> str:
        start = self.start or 0
        end = f"{start + self.duration}" if self.duration is not None else "end"
        return f"[{start}, {end}) us after the first event"

    def note(self) -> str:
        return f"time window {self.describe()}" if self.active else ""


class _Keeper:
    """Keeps at most ``limit`` events: every k-th ('spread') or the first ones ('first')."""

    def __init__(self, limit: int, policy: str, total: int | None):
        self.limit = limit
        self.policy = policy
        self.stride = 1
        if policy == "spread" and total and total > limit:
            self.stride = -(-total // limit)  # known length: the stride that fits, from the start
        self.parts: list[np.ndarray] = []
        self.indices: list[np.ndarray] = []
        self.kept = 0
        self.cut = False

    def add(self, events: np.ndarray, index: np.ndarray) -> bool:
        """Take a chunk; False when reading can stop."""
        if self.stride > 1:
            on_stride = index % self.stride == 0
            events, index = events[on_stride], index[on_stride]
        if self.policy == "first" and self.kept + len(events) > self.limit:
            room = self.limit - self.kept
            self._append(events[:room], index[:room])
            self.cut = True
            return False
        self._append(events, index)
        while self.policy == "spread" and self.kept > self.limit:
            self._thin()
        return True

    def _append(self, events: np.ndarray, index: np.ndarray) -> None:
        if len(events):
            self.parts.append(events)
            self.indices.append(index)
            self.kept += len(events)

    def _thin(self) -> None:
        """The budget is full: double the stride and drop the kept events that are off it."""
        self.stride *= 2
        self.cut = True
        for i, (events, index) in enumerate(zip(self.parts, self.indices)):
            on_stride = index % self.stride == 0
            self.parts[i], self.indices[i] = events[on_stride], index[on_stride]
        self.kept = sum(len(p) for p in self.parts)

    def result(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.empty(0, EVENT_DTYPE)

    def note(self, read: int) -> str:
        if self.policy == "first" and self.cut:
            return f"memory budget: kept the first {self.kept} events, the rest not read"
        if self.stride > 1:
            return f"memory budget: kept every {self.stride}th event ({self.kept} of {read})"
        return ""
