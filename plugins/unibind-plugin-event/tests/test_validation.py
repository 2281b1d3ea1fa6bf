"""Bad event data: each rule raises an InputError that names the file and says what is wrong."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from unibind.errors import InputError
from unibind_plugin_event import writers
from unibind_plugin_event.events import EVENT_DTYPE
from unibind_plugin_event.loading import EventModality
from unibind_plugin_event.settings import EventLoadSettings


def _events(n: int = 50, *, sensor: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    out = np.empty(n, dtype=EVENT_DTYPE)
    out["x"], out["y"] = rng.integers(0, sensor, n), rng.integers(0, sensor, n)
    out["t"] = np.sort(rng.integers(0, 10_000, n))
    out["p"] = rng.integers(0, 2, n)
    return out


def _refused(path: Path, match: str, settings: EventLoadSettings | None = None) -> InputError:
    with pytest.raises(InputError, match=match) as caught:
        EventModality(settings).load(path)
    assert caught.value.source == str(path) and str(path) in str(caught.value)
    return caught.value


def test_unsorted_timestamps_are_rejected_by_default_or_sorted(tmp_path: Path) -> None:
    events = _events()
    events[[10, 11]] = events[[11, 10]]
    events["t"][10] += 1  # a strict step back
    path = writers.write_npy(tmp_path / "unsorted.npy", events)
    error = _refused(path, r"timestamps go backwards at event 11 .*timestamp_order='sort'")
    assert "t=" in error.problem
    stream = EventModality(EventLoadSettings(timestamp_order="sort")).load(path)
    assert np.all(np.diff(stream.events["t"]) >= 0)
    assert sorted(stream.events.tolist()) == sorted(events.tolist())
    assert "sorted by time" in stream.note


def test_backwards_step_across_chunks_is_found(tmp_path: Path) -> None:
    events = _events(3000)
    events["t"] = np.arange(3000) * 10
    events["t"][2000:] -= 15_000  # the second chunk starts in the past
    path = writers.write_npy(tmp_path / "merged.npy", events)
    _refused(path, "timestamps go backwards at event 2000", EventLoadSettings(chunk_events=1000))


def test_negative_coordinates(tmp_path: Path) -> None:
    events = _events().astype([("x", "i2"), ("y", "i2"), ("t", "i8"), ("p", "i1")])
    events["y"][7] = -3
    _refused(writers.write_npy(tmp_path / "negative.npy", events), "negative y coordinate -3 at event 7")


def test_coordinates_outside_the_stated_sensor(tmp_path: Path) -> None:
    events = _events(sensor=20)
    events["x"][4] = 40
    npz = writers.write_npz(tmp_path / "outside.npz", events, (34, 34))
    _refused(npz, r"x=40 at event 4 is outside the 34x34 sensor")
    h5 = writers.write_hdf5(tmp_path / "outside.h5", events, (32, 24))
    _refused(h5, r"x=40 at event 4 is outside the 32x24 sensor")
    npy = writers.write_npy(tmp_path / "outside.npy", events)  # no size in the file: settings give it
    EventModality().load(npy)
    _refused(npy, r"outside the 34x34 sensor", EventLoadSettings(sensor_size=(34, 34)))


@pytest.mark.parametrize(("field", "dtype", "value", "problem"), [
    ("x", "U4", "1", r"field 'x' has dtype <U4: coordinates must be integers"),
    ("x", "f4", 2.5, r"field 'x' has non-integer value 2.5 at event 0"),
    ("y", "?", True, r"field 'y' has dtype bool: coordinates must be integers"),
    ("t", "c8", 1, r"field 't' has dtype complex64: timestamps must be"),
    ("t", "S8", b"1", r"field 't' has dtype \|S8: timestamps must be"),
    ("p", "U1", "+", r"field 'p' has dtype <U1: polarity must be"),
    ("p", "f4", 0.5, r"polarity 0.5 at event 0 is not one of 0/1 or -1/1"),
    ("p", "i1", 2, r"polarity 2 at event 0 is not one of 0/1 or -1/1"),
])
def test_wrong_dtypes(tmp_path: Path, field: str, dtype: str, value, problem: str) -> None:
    fields = {"x": "i4", "y": "i4", "t": "i8", "p": "i1"} | {field: dtype}
    events = np.zeros(5, dtype=list(fields.items()))
    if field != "t":
        events["t"] = np.arange(5)
    events[field] = value
    _refused(writers.write_npy(tmp_path / "wrong.npy", events), problem)


def test_non_finite_float_timestamps(tmp_path: Path) -> None:
    events = np.zeros(4, dtype=[("x", "i4"), ("y", "i4"), ("t", "f8"), ("p", "i1")])
    events["t"] = [0.0, 0.1, np.nan, 0.3]
    _refused(writers.write_npy(tmp_path / "nan.npy", events), "timestamp nan at event 2 is not a finite number")


def test_mixed_polarity_conventions(tmp_path: Path) -> None:
    events = np.zeros(3000, dtype=[("x", "i4"), ("y", "i4"), ("t", "i8"), ("p", "i1")])
    events["t"] = np.arange(3000)
    events["p"][:1500] = 1
    events["p"][2500:] = -1  # {0, 1} first, then -1 in a later chunk
    _refused(writers.write_npy(tmp_path / "mixed.npy", events), r"mix the \{0, 1\} and \{-1, 1\} conventions",
             EventLoadSettings(chunk_events=1000))


@pytest.mark.parametrize("fmt", ["npy", "npz", "hdf5"])
def test_missing_fields(tmp_path: Path, fmt: str) -> None:
    events = _events()
    partial = np.empty(len(events), dtype=[("x", "i4"), ("y", "i4"), ("t", "i8")])
    for field in ("x", "y", "t"):
        partial[field] = events[field]
    if fmt == "npy":
        path = writers.write_npy(tmp_path / "no-p.npy", partial)
    elif fmt == "npz":
        path = tmp_path / "no-p.npz"
        np.savez(path, x=events["x"], y=events["y"], ts=events["t"])
    else:
        path = tmp_path / "no-p.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("events", data=partial)
    _refused(path, r"missing event field\(s\) p")


def test_columns_of_different_lengths(tmp_path: Path) -> None:
    events = _events()
    path = tmp_path / "ragged.h5"
    with h5py.File(path, "w") as f:
        for field in ("x", "y", "t"):
            f.create_dataset(f"events/{field}", data=events[field])
        f.create_dataset("events/p", data=events["p"][:-5])
    _refused(path, "event datasets in HDF5 group '/events' differ in length")


def test_plain_arrays_need_a_column_order(tmp_path: Path) -> None:
    path = tmp_path / "plain.npy"
    np.save(path, np.zeros((10, 4)))
    _refused(path, r"has no field names: .* set columns")
    np.save(path, np.zeros((10, 3)))
    _refused(path, r"expected a structured array with fields x, y, t, p; got a plain float64 array of shape \(10, 3\)",
             EventLoadSettings(columns="txyp"))


class _Tripwire:
    """Unpickling this creates a file: proof that a loader ran a pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("fmt", ["npy", "npz"])
def test_pickled_objects_are_refused_not_unpickled(tmp_path: Path, fmt: str) -> None:
    marker = tmp_path / "unpickled"
    evil = np.array([_Tripwire(marker)], dtype=object)
    path = tmp_path / f"evil.{fmt}"
    if fmt == "npy":
        np.save(path, evil, allow_pickle=True)
    else:
        np.savez(path, events=evil)
    _refused(path, "refusing to unpickle")
    assert not marker.exists(), "the loader unpickled a user's file"


def test_files_with_no_events(tmp_path: Path) -> None:
    _refused(writers.write_npy(tmp_path / "none.npy", np.empty(0, EVENT_DTYPE)), "holds no events")
    _refused(writers.write_hdf5(tmp_path / "none.h5", np.empty(0, EVENT_DTYPE)), "holds no events")


def test_hdf5_without_events_lists_what_it_has(tmp_path: Path) -> None:
    path = tmp_path / "images.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 4, 4)))
    _refused(path, r"no events found in HDF5: .* top level has images")
    _refused(path, r"no HDF5 object 'cd/events'", EventLoadSettings(hdf5_path="cd/events"))


def test_settings_are_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="columns must order the letters"):
        EventLoadSettings(columns="xyzp")
    with pytest.raises(ValidationError, match="sensor_size must be two positive"):
        EventLoadSettings(sensor_size=(0, 10))
