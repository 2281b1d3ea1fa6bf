"""Writing event streams in the formats the loader reads: tests round-trip through these, and the
``unibind event simulate`` command saves simulated recordings with them.

Each writer takes a structured array with fields x, y, t (microseconds), p
(1 = ON, 0 = OFF), such as :data:`events.EVENT_DTYPE`. AEDAT4 is written
with iniVation's own ``dv-processing`` writer when it is installed (a test
dependency, not a runtime one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from unibind_plugin_event.readers import NMNIST_OVERFLOW_US, NMNIST_OVERFLOW_Y, NMNIST_RECORD

NMNIST_MAX_TS = 2**23 - 1  # the 23-bit timestamp field of one record


def write_npy(path: str | Path, events: np.ndarray) -> Path:
    """A structured .npy array (x, y, t, p): what tonic's datasets keep in memory."""
    path = Path(path)
    np.save(path, np.ascontiguousarray(events), allow_pickle=False)
    return path


def write_npz(path: str | Path, events: np.ndarray, sensor_size: tuple[int, int] | None = None, *,
              layout: Literal["columns", "structured"] = "columns", compressed: bool = False) -> Path:
    """NPZ with arrays x, y, t, p ('columns') or one array 'events' ('structured'), plus sensor_size."""
    path = Path(path)
    arrays = ({f: np.ascontiguousarray(events[f]) for f in ("x", "y", "t", "p")} if layout == "columns"
              else {"events": np.ascontiguousarray(events)})
    if sensor_size is not None:
        arrays["sensor_size"] = np.asarray(sensor_size, dtype=np.int64)
    with path.open("wb") as fh:  # an open file: np.savez would add '.npz' to a name without it
        (np.savez_compressed if compressed else np.savez)(fh, **arrays)
    return path


def write_hdf5(path: str | Path, events: np.ndarray, sensor_size: tuple[int, int] | None = None, *,
               layout: Literal["group", "compound"] = "group") -> Path:
    """HDF5 with datasets /events/{x,y,t,p} ('group') or one compound dataset /events; sensor_size attribute."""
    import h5py

    path = Path(path)
    with h5py.File(path, "w") as f:
        if layout == "group":
            group = f.create_group("events")
            for field in ("x", "y", "t", "p"):
                group.create_dataset(field, data=np.ascontiguousarray(events[field]))
            target = group
        else:
            target = f.create_dataset("events", data=np.ascontiguousarray(events))
        if sensor_size is not None:
            target.attrs["sensor_size"] = np.asarray(sensor_size, dtype=np.int64)
    return path


def nmnist_bytes(events: np.ndarray) -> bytes:
    """Events as N-MNIST / N-Caltech101 40-bit records, with overflow markers for times past 2**23 us.

    Each record: byte 0 = x, byte 1 = y, byte 2 = polarity (bit 7) and timestamp bits 22-16,
    bytes 3-4 = timestamp bits 15-0. A record with y = 240 marks a timestamp overflow
    (each adds ``NMNIST_OVERFLOW_US`` to later timestamps, as tonic reads them).
    """
    x, y, t, p = (np.asarray(events[f]) for f in ("x", "y", "t", "p"))
    if len(t) and (x.min() < 0 or x.max() > 255 or y.min() < 0 or y.max() > 255):
        raise ValueError("N-MNIST records hold x and y in 0..255")
    if np.any(y == NMNIST_OVERFLOW_Y):
        raise ValueError(f"y = {NMNIST_OVERFLOW_Y} is reserved for overflow markers in N-MNIST records")
    if len(t) and (t.min() < 0 or np.any(np.diff(t) < 0)):
        raise ValueError("N-MNIST records need non-negative, ordered timestamps")
    # markers needed before each event, so that what is left fits 23 bits
    markers = np.maximum(0, -(-(t.astype(np.int64) - NMNIST_MAX_TS) // NMNIST_OVERFLOW_US))
    ts = t.astype(np.int64) - markers * NMNIST_OVERFLOW_US
    records = np.zeros((len(t), NMNIST_RECORD), dtype=np.uint8)
    records[:, 0], records[:, 1] = x, y
    records[:, 2] = ((np.asarray(p) > 0).astype(np.int64) << 7) | ((ts >> 16) & 0x7F)
    records[:, 3], records[:, 4] = (ts >> 8) & 0xFF, ts & 0xFF
    # each overflow marker goes just before the first event that needs it
    before = np.repeat(np.arange(len(t)), np.diff(np.concatenate([[0], markers])))
    marker = np.array([0, NMNIST_OVERFLOW_Y, 0, 0, 0], dtype=np.uint8)
    return np.insert(records, before, marker, axis=0).tobytes()


def write_nmnist(path: str | Path, events: np.ndarray) -> Path:
    """An N-MNIST-format ``.bin`` file."""
    path = Path(path)
    path.write_bytes(nmnist_bytes(events))
    return path


def write_aedat4(path: str | Path, events: np.ndarray, sensor_size: tuple[int, int]) -> Path:
    """An AEDAT4 file written by iniVation's ``dv-processing`` (``pip install dv-processing``)."""
    try:
        import dv_processing as dv
    except ImportError as exc:
        raise RuntimeError("writing AEDAT4 needs iniVation's dv-processing (pip install dv-processing)") from exc
    path = Path(path)
    store = dv.EventStore()
    for x, y, t, p in zip(events["x"].tolist(), events["y"].tolist(), events["t"].tolist(), events["p"].tolist()):
        store.push_back(int(t), int(x), int(y), bool(p > 0))
    writer = dv.io.MonoCameraWriter(str(path), dv.io.MonoCameraWriter.EventOnlyConfig("unibind", tuple(sensor_size)))
    writer.writeEvents(store)
    del writer  # the file is finished when the writer is destroyed
    return path
