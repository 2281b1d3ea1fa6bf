"""Memory bombs: huge stated sensors and far-out coordinates are refused or binned, never allocated.

On the old code each of these allocated a ``(3, 2, 32001, 32001)`` map or
bigger (11-37 GiB) and a batch holding one was OOM-killed.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from unibind.errors import InputError
from unibind_plugin_event import writers
from unibind_plugin_event.events import EVENT_DTYPE, EventStream
from unibind_plugin_event.loading import EventModality
from unibind_plugin_event.representations import binning, event_maps
from unibind_plugin_event.settings import EventLoadSettings, EventRenderSettings, render_bytes


def _events(n: int, x: int, y: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["x"] = np.full(n, x) if x else rng.integers(0, 34, n)
    events["y"] = np.full(n, y) if y else rng.integers(0, 34, n)
    events["t"] = np.arange(n, dtype=np.int64) * 10
    events["p"] = rng.integers(0, 2, n)
    return events


def test_far_out_coordinates_without_a_stated_sensor_are_refused_naming_the_file(tmp_path: Path) -> None:
    path = writers.write_npy(tmp_path / "far.npy", _events(5_000, 32_000, 32_000))
    with pytest.raises(InputError) as caught:
        EventModality().load(path)
    message = str(caught.value)
    assert "far.npy" in message and "x=32000" in message and "max_sensor_size 4096x4096" in message


def test_a_huge_stated_sensor_is_refused_before_any_event_is_kept(tmp_path: Path) -> None:
    path = writers.write_npz(tmp_path / "huge.npz", _events(100, 0, 0), sensor_size=(100_000, 100_000))
    with pytest.raises(InputError, match=r"huge\.npz.*100000x100000 sensor, larger than max_sensor_size"):
        EventModality().load(path)


def test_the_cap_is_a_setting(tmp_path: Path) -> None:
    path = writers.write_npy(tmp_path / "wide.npy", _events(100, 5_000, 10))
    stream = EventModality(EventLoadSettings(max_sensor_size=(8192, 8192))).load(path)
    assert stream.sensor_size == (5_001, 11)
    with pytest.raises(ValueError, match="larger than max_sensor_size"):
        EventLoadSettings(sensor_size=(5000, 5000))


def test_real_sensors_load_unchanged(tmp_path: Path) -> None:
    path = writers.write_npz(tmp_path / "gen4.npz", _events(1_000, 0, 0), sensor_size=(1280, 720))
    assert EventModality().load(path).sensor_size == (1280, 720)


@pytest.mark.parametrize("representation", ["eventclip", "frame", "image", "voxel", "timesurface"])
def test_every_renderer_stays_within_its_budget_whatever_the_coordinates(representation: str) -> None:
    stream = EventStream.from_array(_events(5_000, 32_000, 32_000))  # in memory: no loader cap
    settings = EventRenderSettings(representation=representation, render_memory_mb=32)
    event_maps(EventStream.from_array(_events(100, 0, 0)), settings)  # imports tonic outside the trace
    tracemalloc.start()
    try:
        maps = event_maps(stream, settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32e6, f"{representation} peaked at {peak / 1e6:.0f} MB"
    k = binning(32_001, 32_001, settings)
    assert maps.shape == (3, 2, -(-32_001 // k), -(-32_001 // k))
    assert maps.max() > 0  # the binned events are still drawn


def test_budget_estimate_covers_a_capped_sensor_render() -> None:
    """The documented bytes-per-pixel figures hold for a rendering at full size (measured)."""
    rng = np.random.default_rng(1)
    events = _events(20_000, 0, 0)
    events["x"], events["y"] = rng.integers(0, 1024, 20_000), rng.integers(0, 1024, 20_000)
    stream = EventStream.from_array(events, sensor_size=(1024, 1024))
    settings = EventRenderSettings()
    assert binning(1024, 1024, settings) == 1
    from unibind_plugin_event.render import render

    render(EventStream.from_array(_events(100, 0, 0)), settings)  # imports tonic outside the trace
    tracemalloc.start()
    try:
        render(stream, settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < render_bytes(1024, 1024, settings.n_frames)


def test_real_sensors_are_never_binned_at_the_default_budget() -> None:
    settings = EventRenderSettings()
    assert binning(1280, 720, settings) == 1 and binning(1280, 960, settings) == 1
    assert binning(4096, 4096, settings) > 1


def test_a_batch_with_bombs_finishes_the_good_files_and_reports_the_bad(tmp_path: Path, event_encoder) -> None:
    from unibind.batching import prepared_batches

    paths = []
    for i in range(16):
        paths.append(writers.write_npz(tmp_path / f"good{i:02d}.npz", _events(500, 0, 0, seed=i),
                                       sensor_size=(34, 34)))
    paths.insert(3, writers.write_npy(tmp_path / "bomb-coords.npy", _events(5_000, 32_000, 32_000)))
    paths.insert(9, writers.write_npz(tmp_path / "bomb-sensor.npz", _events(100, 0, 0),
                                      sensor_size=(100_000, 100_000)))
    paths.insert(15, writers.write_npz(tmp_path / "bomb-both.npz", _events(100, 30_000, 30_000),
                                       sensor_size=(100_000, 100_000)))
    assert len(paths) == 19
    sources, failures = [], []
    for batch in prepared_batches(paths, EventModality(), event_encoder, batch_size=8):
        sources += batch.sources
        failures += batch.failures
    assert len(sources) == 16 and all("good" in s for s in sources)
    assert sorted(Path(f.source).name for f in failures) == ["bomb-both.npz", "bomb-coords.npy", "bomb-sensor.npz"]
    assert all("max_sensor_size" in f.reason for f in failures)
