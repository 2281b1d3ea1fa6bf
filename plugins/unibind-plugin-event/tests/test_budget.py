"""Streams longer than the memory budget are read in chunks and cut, never loaded whole."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from unibind.errors import InputError
from unibind_plugin_event import writers
from unibind_plugin_event.events import EVENT_DTYPE
from unibind_plugin_event.loading import EventModality, _Keeper
from unibind_plugin_event.settings import EVENT_BYTES, EventLoadSettings


def _long_stream(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["x"], events["y"] = rng.integers(0, 64, n), rng.integers(0, 48, n)
    events["t"] = np.arange(n, dtype=np.int64) * 10  # 10 us apart
    events["p"] = rng.integers(0, 2, n)
    return events


def _budget(events: int) -> float:
    """The memory_budget_mb that holds exactly this many events."""
    return events * EVENT_BYTES / 1e6


def test_spread_keeps_every_kth_event_across_the_whole_recording(tmp_path: Path) -> None:
    events = _long_stream(10_000)
    path = writers.write_npy(tmp_path / "long.npy", events)
    settings = EventLoadSettings(memory_budget_mb=_budget(2_000), chunk_events=1_000)
    stream = EventModality(settings).load(path)
    assert len(stream) == 2_000 and stream.events_in_file == 10_000
    np.testing.assert_array_equal(stream.events, events[::5])
    assert stream.duration_us >= 0.99 * (events["t"][-1] - events["t"][0])  # the whole recording is seen
    assert "kept every 5th event (2000 of 10000)" in stream.note


def test_first_keeps_the_start_and_stops_reading(tmp_path: Path) -> None:
    """A defect late in the file shows what was read: 'first' never reaches it, 'spread' does."""
    events = _long_stream(10_000)
    events["x"][8_000] = -1
    path = writers.write_npy(tmp_path / "long.npy", events)
    first = EventLoadSettings(memory_budget_mb=_budget(2_000), chunk_events=1_000, long_streams="first")
    stream = EventModality(first).load(path)
    np.testing.assert_array_equal(stream.events, events[:2_000])
    assert "kept the first 2000 events" in stream.note
    with pytest.raises(InputError, match="negative x coordinate -1 at event 8000"):
        EventModality(first.model_copy(update={"long_streams": "spread"})).load(path)


def test_unknown_length_thins_as_it_goes() -> None:
    """With no length known up front (AEDAT4 packets), the stride doubles whenever the budget fills."""
    keeper = _Keeper(limit=1_000, policy="spread", total=None)
    events = _long_stream(9_000)
    for start in range(0, 9_000, 700):
        chunk = events[start:start + 700]
        keeper.add(chunk, np.arange(start, start + len(chunk)))
    kept = keeper.result()
    assert keeper.stride == 16 and len(kept) <= 1_000
    np.testing.assert_array_equal(kept, events[::16])


@pytest.mark.parametrize("fmt", ["npy", "npz", "hdf5", "nmnist"])
def test_a_long_file_is_never_held_whole(tmp_path: Path, fmt: str) -> None:
    """1.5 million events (about 25 MB once loaded) read with a 1 MB budget: memory stays near the budget."""
    events = _long_stream(1_500_000, seed=1)
    events["t"] //= 2  # 7.5 s: within N-MNIST's 23-bit timestamps, no overflow markers needed
    writer = {"npy": lambda e: writers.write_npy(tmp_path / "long.npy", e),
              "npz": lambda e: writers.write_npz(tmp_path / "long.npz", e, (64, 48)),
              "hdf5": lambda e: writers.write_hdf5(tmp_path / "long.h5", e, (64, 48)),
              "nmnist": lambda e: writers.write_nmnist(tmp_path / "long.bin", e)}[fmt]
    path = writer(events)
    del events
    import h5py  # noqa: F401 - imported before measuring: tonic's first import alone allocates ~70 MB (torch)
    import tonic.io  # noqa: F401

    settings = EventLoadSettings(memory_budget_mb=1.0, chunk_events=25_000)
    tracemalloc.start()
    try:
        stream = EventModality(settings).load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    whole = 1_500_000 * EVENT_BYTES
    print(f"\n{fmt}: peak {peak / 1e6:.1f} MB while loading a {whole / 1e6:.1f} MB stream "
          f"({len(stream)} events kept, {stream.note})")
    assert len(stream) <= settings.max_events and stream.events_in_file == 1_500_000
    assert peak < whole / 4


def test_time_window_selects_and_stops_early(tmp_path: Path) -> None:
    events = _long_stream(10_000)  # 0 .. 99,990 us
    events["y"][9_000] = -5  # past the window: never read when timestamps are ordered
    path = writers.write_npy(tmp_path / "long.npy", events)
    settings = EventLoadSettings(window_start_us=20_000, window_duration_us=30_000, chunk_events=1_000)
    stream = EventModality(settings).load(path)
    np.testing.assert_array_equal(stream.events, events[2_000:5_000])
    assert "time window [20000, 50000) us after the first event" in stream.note
    with pytest.raises(InputError, match="no events in the time window"):
        EventModality(EventLoadSettings(window_start_us=200_000)).load(writers.write_npy(tmp_path / "s.npy",
                                                                                         events[:100]))
