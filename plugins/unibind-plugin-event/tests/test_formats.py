"""Round trips: a simulated recording written in every format the loader reads comes back the same.

The files are written with numpy, h5py, the N-MNIST bit layout (``writers``)
and iniVation's dv-processing (AEDAT4); the events are simulated from a real
MNIST digit.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from unibind_plugin_event import writers
from unibind_plugin_event.events import EVENT_DTYPE
from unibind_plugin_event.loading import EventModality
from unibind_plugin_event.settings import EventLoadSettings
from unibind_plugin_event.simulate import NMNIST_SENSOR


def _same(stream, events: np.ndarray) -> None:
    assert stream.events.dtype == EVENT_DTYPE
    for field in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(stream.events[field], events[field], err_msg=field)


@pytest.mark.parametrize("layout,compressed", [("columns", False), ("structured", False), ("columns", True)])
def test_npz_round_trip_with_sensor_size(simulated_digit, tmp_path: Path, layout: str, compressed: bool) -> None:
    path = writers.write_npz(tmp_path / "digit.npz", simulated_digit, (40, 36), layout=layout,
                             compressed=compressed)
    stream = EventModality().load(path)
    _same(stream, simulated_digit)
    assert stream.sensor_size == (40, 36)  # as the file states, not the largest x/y + 1
    assert stream.note == ""


@pytest.mark.parametrize("layout", ["group", "compound"])
def test_hdf5_round_trip(simulated_digit, tmp_path: Path, layout: str) -> None:
    path = writers.write_hdf5(tmp_path / "digit.h5", simulated_digit, NMNIST_SENSOR, layout=layout)
    stream = EventModality().load(path)
    _same(stream, simulated_digit)
    assert stream.sensor_size == NMNIST_SENSOR


def test_hdf5_common_layouts_and_attributes(simulated_digit, tmp_path: Path) -> None:
    """Root-level xs/ys/ts/ps datasets with width/height attributes, and a group chosen by hdf5_path."""
    root = tmp_path / "root.hdf5"
    with h5py.File(root, "w") as f:
        for name, field in (("xs", "x"), ("ys", "y"), ("ts", "t"), ("ps", "p")):
            f.create_dataset(name, data=simulated_digit[field])
        f.attrs["width"], f.attrs["height"] = 34, 34
    _same(EventModality().load(root), simulated_digit)
    assert EventModality().load(root).sensor_size == (34, 34)

    nested = tmp_path / "nested.h5"
    with h5py.File(nested, "w") as f:
        group = f.create_group("recordings/left")
        for field in ("x", "y", "t", "p"):
            group.create_dataset(field, data=simulated_digit[field], chunks=True, compression="gzip")
    _same(EventModality(EventLoadSettings(hdf5_path="recordings/left")).load(nested), simulated_digit)


def test_plain_txyp_arrays_need_their_column_order(simulated_digit, tmp_path: Path) -> None:
    """(N, 4) float arrays, seconds first, as many datasets store them: C and Fortran order, npy/npz/HDF5."""
    txyp = np.stack([simulated_digit["t"] / 1e6, simulated_digit["x"], simulated_digit["y"],
                     np.where(simulated_digit["p"] > 0, 1.0, -1.0)], axis=1)
    loader = EventModality(EventLoadSettings(columns="txyp"))
    np.save(tmp_path / "c.npy", txyp)
    np.save(tmp_path / "f.npy", np.asfortranarray(txyp))
    np.savez(tmp_path / "f.npz", events=np.asfortranarray(txyp))
    np.savez_compressed(tmp_path / "c.npz", events=txyp)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("events", data=txyp)
    for name in ("c.npy", "f.npy", "f.npz", "c.npz", "c.h5"):
        _same(loader.load(tmp_path / name), simulated_digit)


def test_nmnist_bin_round_trip_with_timestamp_overflow(simulated_digit, tmp_path: Path) -> None:
    """The 40-bit records, decoded by tonic.io.read_mnist_file; times past 2**23 us need overflow markers."""
    late = simulated_digit.copy()
    late["t"] += 2**23 + 12_345  # so the writer must emit overflow markers
    path = writers.write_nmnist(tmp_path / "late.bin", late)
    assert path.stat().st_size > 5 * len(late)  # markers were written
    _same(EventModality(EventLoadSettings(sensor_size=NMNIST_SENSOR)).load(path), late)
    # decoded in several chunks, the overflow count carries across chunk boundaries
    small_chunks = EventModality(EventLoadSettings(chunk_events=1000, sensor_size=NMNIST_SENSOR))
    _same(small_chunks.load(path), late)


def test_nmnist_bit_layout_is_the_published_one(tmp_path: Path) -> None:
    """x, y bytes; polarity bit 7 of byte 2; 23-bit timestamp in the rest (big-endian)."""
    path = writers.write_nmnist(tmp_path / "one.bin", np.array([(5, 7, 0x12345, 1)], dtype=EVENT_DTYPE))
    assert path.read_bytes() == bytes([5, 7, 0x80 | 0x01, 0x23, 0x45])
    stream = EventModality().load(path)
    assert stream.events[0].tolist() == (5, 7, 0x12345, 1)


def test_aedat4_round_trip_through_tonic(simulated_digit, tmp_path: Path) -> None:
    """Written by dv-processing, read by tonic.io.read_aedat4; sensor size from the stream's own info."""
    path = writers.write_aedat4(tmp_path / "digit.aedat4", simulated_digit, (36, 35))
    stream = EventModality().load(path)
    _same(stream, simulated_digit)
    assert stream.sensor_size == (36, 35)


def test_aedat4_large_file_is_read_packet_by_packet(simulated_digit, tmp_path: Path) -> None:
    """Past a quarter of the memory budget the loader iterates the decoder's packets instead of tonic's
    read-everything function; the events are the same."""
    path = writers.write_aedat4(tmp_path / "digit.aedat4", simulated_digit, NMNIST_SENSOR)
    settings = EventLoadSettings(memory_budget_mb=3 * path.stat().st_size / 1e6)  # file > budget / 4
    assert settings.max_events >= len(simulated_digit)  # but all its events fit
    _same(EventModality(settings).load(path), simulated_digit)


def test_tonic_dtypes_and_polarity_conventions_load_alike(simulated_digit, tmp_path: Path) -> None:
    """tonic's own events_struct (int16 x/y, bool p), {-1, 1} polarity and float seconds give one stream."""
    from tonic.io import events_struct

    as_tonic = np.empty(len(simulated_digit), dtype=events_struct)
    for field in ("x", "y", "t"):
        as_tonic[field] = simulated_digit[field]
    as_tonic["p"] = simulated_digit["p"] > 0
    signed = np.empty(len(simulated_digit), dtype=[("x", "u2"), ("y", "u2"), ("t", "f8"), ("p", "i2")])
    signed["x"], signed["y"] = simulated_digit["x"], simulated_digit["y"]
    signed["t"] = simulated_digit["t"] / 1e6  # float seconds
    signed["p"] = np.where(simulated_digit["p"] > 0, 1, -1)
    loader = EventModality()
    _same(loader.load(writers.write_npy(tmp_path / "tonic.npy", as_tonic)), simulated_digit)
    _same(loader.load(writers.write_npy(tmp_path / "signed.npy", signed)), simulated_digit)
    # milliseconds as integers, said so in the settings
    ms = signed.copy()
    ms["t"] = simulated_digit["t"] // 1000
    coarse = EventModality(EventLoadSettings(time_unit="ms")).load(writers.write_npy(tmp_path / "ms.npy", ms))
    np.testing.assert_array_equal(coarse.events["t"], (simulated_digit["t"] // 1000) * 1000)


def test_sensor_size_is_inferred_or_taken_from_settings(simulated_digit, tmp_path: Path) -> None:
    path = writers.write_npy(tmp_path / "digit.npy", simulated_digit)
    inferred = EventModality().load(path)
    assert inferred.sensor_size == (int(simulated_digit["x"].max()) + 1, int(simulated_digit["y"].max()) + 1)
    assert EventModality(EventLoadSettings(sensor_size=(64, 48))).load(path).sensor_size == (64, 48)
