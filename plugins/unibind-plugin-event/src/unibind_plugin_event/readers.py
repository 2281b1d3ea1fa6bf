"""Event file readers: each opens one format and yields its events chunk by chunk.

Formats are told apart by their first bytes (the N-MNIST binary format has
no magic number, so it is recognised by its ``.bin`` suffix). A reader never
loads a whole stream: ``.npy`` is memory-mapped, NPZ members are streamed out
of the zip, HDF5 datasets are sliced with h5py, N-MNIST records and AEDAT4
packets are decoded a chunk at a time. Each chunk is a dict of the four raw
columns ``x, y, t, p`` (dtypes as in the file); :mod:`validate` checks and
converts them.

tonic does the decoding where it reads the format: ``tonic.io.read_mnist_file``
for N-MNIST / N-Caltech101 records and ``tonic.io.read_aedat4`` (through the
``aedat`` package) for AEDAT4.
"""

from __future__ import annotations

import contextlib
import io
import math
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind_plugin_event.settings import EventLoadSettings

Columns = dict[str, np.ndarray]

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
AEDAT4_MAGIC = b"#!AER-DAT4.0"
AEDAT_MAGIC = b"#!AER-DAT"
NMNIST_SUFFIX = ".bin"
NMNIST_RECORD = 5  # bytes: x (8 bits), y (8 bits), polarity (1 bit), timestamp (23 bits, microseconds)
NMNIST_OVERFLOW_Y = 240  # a record with this y is a timestamp-overflow marker, not an event
NMNIST_OVERFLOW_US = 2**13  # what tonic.io.read_mnist_file adds per overflow marker

#: Names each event field goes by in the files we read (lower case).
ALIASES: dict[str, tuple[str, ...]] = {
    "x": ("x", "xs"),
    "y": ("y", "ys"),
    "t": ("t", "ts", "timestamp", "timestamps", "time"),
    "p": ("p", "ps", "pol", "polarity", "polarities", "on"),
}
SENSOR_KEYS = ("sensor_size", "sensor_resolution_wh")

FORMATS = ".npy (structured x, y, t, p), .npz, HDF5 (.h5/.hdf5), N-MNIST/N-Caltech101 .bin, AEDAT4 (.aedat4)"


@dataclass
class Source:
    """An opened event file: what it says about itself, and its events chunk by chunk."""

    format: str
    total: int | None  # events in the file, when the format tells without reading them
    sensor_size: tuple[int, int] | None  # (width, height), when the file states it
    chunks: Callable[[int], Iterator[Columns]]


def sniff(path: Path) -> str:
    """The format of ``path`` from its first bytes (``.bin`` files by suffix)."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(ZIP_MAGIC):
        return "npz"
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(AEDAT4_MAGIC):
        return "aedat4"
    if head.startswith(AEDAT_MAGIC):
        raise InputError(path, "AEDAT 2/3 files are camera-specific (tonic.io.read_dvs_128, read_davis_346...);"
                               " convert them to AEDAT4, .npy or HDF5 first")
    if path.suffix.lower() == NMNIST_SUFFIX:
        return "nmnist"
    raise InputError(path, f"not a recognised event file: expected {FORMATS}")


@contextlib.contextmanager
def open_source(path: Path, settings: EventLoadSettings) -> Iterator[Source]:
    """Open ``path`` in whatever format it is; the file stays open inside the ``with`` block."""
    readers = {"npy": _npy, "npz": _npz, "hdf5": _hdf5, "nmnist": _nmnist, "aedat4": _aedat4}
    with contextlib.ExitStack() as stack:
        yield readers[sniff(path)](path, settings, stack)


# -- shared helpers --------------------------------------------------------------------------------

def resolve_fields(names: list[str], path: Path, where: str = "") -> dict[str, str]:
    """Map x, y, t, p to the names a file uses; an error lists what is missing and what was found."""
    lower = {n.lower(): n for n in names}
    found: dict[str, str] = {}
    for field, aliases in ALIASES.items():
        match = next((lower[a] for a in aliases if a in lower), None)
        if match is not None:
            found[field] = match
    missing = [f for f in ALIASES if f not in found]
    if missing:
        raise InputError(path, f"missing event field(s) {', '.join(missing)}{where}: found "
                               f"{', '.join(map(str, names)) or 'nothing'}; expected x, y, t, p")
    return found


def _plain_order(shape: tuple[int, ...], dtype: np.dtype, path: Path, settings: EventLoadSettings,
                 where: str = "") -> str:
    """The column order of a plain 2-D array, which only the settings can give."""
    if len(shape) != 2 or shape[1] != 4:
        raise InputError(path, f"expected a structured array with fields x, y, t, p{where}; got a plain "
                               f"{dtype} array of shape {shape}")
    if settings.columns is None:
        raise InputError(path, f"a plain {dtype} array of shape {shape}{where} has no field names: save a "
                               "structured array with fields x, y, t, p, or set columns (e.g. 'txyp')")
    return settings.columns


def _rows(array, order: str | None, fields: dict[str, str] | None, chunk: int, total: int) -> Iterator[Columns]:
    """Chunks of a structured (``fields``) or plain 2-D (``order``) array-like that slices lazily."""
    for start in range(0, total, chunk):
        block = np.asarray(array[start:start + chunk])
        if fields is not None:
            yield {f: block[name] for f, name in fields.items()}
        else:
            yield {f: block[:, order.index(f)] for f in "xytp"}


def _sensor_from(values, path: Path, where: str) -> tuple[int, int]:
    size = np.asarray(values).ravel()
    if size.size < 2 or size.dtype.kind not in "iuf" or not np.all(size[:2] >= 1):
        raise InputError(path, f"{where} must hold (width, height[, polarities]), got {size.tolist()}")
    return int(size[0]), int(size[1])


def _read_npy_header(fh, path: Path, where: str = "") -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from a .npy header; object arrays refused before any data is read."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except ValueError as exc:
        raise InputError(path, f"not a valid .npy header{where}: {exc}") from exc
    if dtype.hasobject:
        raise InputError(path, f"holds Python objects (a pickle){where}; refusing to unpickle a user's file")
    return tuple(shape), bool(fortran), dtype


# -- .npy: memory-mapped -----------------------------------------------------------------------------

def _npy(path: Path, settings: EventLoadSettings, stack: contextlib.ExitStack) -> Source:
    with path.open("rb") as fh:
        shape, _, dtype = _read_npy_header(fh, path)
        data_start = fh.tell()
    need = data_start + math.prod(shape) * dtype.itemsize
    size = path.stat().st_size
    if size < need:
        raise InputError(path, f"file is truncated: its header promises an array of shape {shape} "
                               f"({need} bytes with the header), the file has {size} bytes")
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    if dtype.names:
        if len(shape) != 1:
            raise InputError(path, f"expected a 1-D structured array of events, got shape {shape}")
        fields, order = resolve_fields(list(dtype.names), path), None
    else:
        fields, order = None, _plain_order(shape, dtype, path, settings)
    total = shape[0]
    return Source("npy", total, None, lambda chunk: _rows(array, order, fields, chunk, total))


# -- .npz: members streamed out of the zip ------------------------------------------------------------

_SKIP_BLOCK = 1 << 23  # bytes


class _MemberColumn:
    """Reads one 1-D array (or one column of a Fortran-ordered 2-D array) out of an NPZ member, in chunks."""

    def __init__(self, zf: zipfile.ZipFile, member: str, path: Path, column: int | None = None):
        self.fh = zf.open(member)
        self.where = f" in member {member!r}"
        self.shape, _, self.dtype = _read_npy_header(self.fh, path, self.where)
        self.path = path
        self.rows = self.shape[0] if self.shape else 0
        self.row_items = math.prod(self.shape[1:]) if column is None else 1
        self.remaining = self.rows  # rows not read yet: a column must not run into the next one
        if column is not None:  # a Fortran-ordered (N, 4) array stores its columns one after the other
            skip = column * self.rows * self.dtype.itemsize
            while skip > 0:  # read past the earlier columns a block at a time, never all at once
                skipped = len(self.fh.read(min(skip, _SKIP_BLOCK)))
                if not skipped:
                    raise InputError(path, f"member data is truncated{self.where}")
                skip -= skipped

    def read(self, n: int) -> np.ndarray:
        n = min(n, self.remaining)
        self.remaining -= n
        want = n * self.row_items * self.dtype.itemsize
        data = self.fh.read(want)
        if len(data) != want:
            raise InputError(self.path, f"member data is truncated{self.where}")
        out = np.frombuffer(data, dtype=self.dtype)
        return out.reshape(-1, self.row_items) if self.row_items > 1 else out


def _npz(path: Path, settings: EventLoadSettings, stack: contextlib.ExitStack) -> Source:
    try:
        zf = stack.enter_context(zipfile.ZipFile(path))
    except zipfile.BadZipFile as exc:
        raise InputError(path, f"not a readable .npz (zip) archive: {exc}") from exc
    members = {name.removesuffix(".npy"): name for name in zf.namelist() if name.endswith(".npy")}
    if not members:
        raise InputError(path, "the .npz archive holds no arrays")
    sensor = None
    for key in SENSOR_KEYS:
        if key in members:
            with zf.open(members[key]) as fh:
                _read_npy_header(fh, path, f" in member {members[key]!r}")
            with zf.open(members[key]) as fh:
                sensor = _sensor_from(np.lib.format.read_array(fh, allow_pickle=False), path, f"member {key!r}")
    names = [n for n in members if n not in SENSOR_KEYS]
    if len(names) > 1:  # one array per field
        fields = resolve_fields(names, path, " in the .npz")
        columns = {f: _MemberColumn(zf, members[n], path) for f, n in fields.items()}
        for col in columns.values():
            stack.callback(col.fh.close)
            if len(col.shape) != 1:
                raise InputError(path, f"event column {col.where.strip()} must be 1-D, got shape {col.shape}")
        lengths = {f: c.rows for f, c in columns.items()}
        if len(set(lengths.values())) != 1:
            raise InputError(path, f"event columns differ in length: {lengths}")
        total = lengths["t"]

        def column_chunks(chunk: int) -> Iterator[Columns]:
            for _ in range(0, total, chunk):
                yield {f: c.read(chunk) for f, c in columns.items()}

        return Source("npz", total, sensor, column_chunks)
    if not names:
        raise InputError(path, "the .npz holds only a sensor size, no events")
    member = members[names[0]]
    probe = _MemberColumn(zf, member, path)
    stack.callback(probe.fh.close)
    shape, dtype = probe.shape, probe.dtype
    where = f" (member {member!r})"
    if dtype.names:
        if len(shape) != 1:
            raise InputError(path, f"expected a 1-D structured array of events{where}, got shape {shape}")
        fields = resolve_fields(list(dtype.names), path, where)
        total = shape[0]

        def structured_chunks(chunk: int) -> Iterator[Columns]:
            for _ in range(0, total, chunk):
                block = probe.read(chunk)
                yield {f: block[name] for f, name in fields.items()}

        return Source("npz", total, sensor, structured_chunks)
    order = _plain_order(shape, dtype, path, settings, where)
    total = shape[0]
    with zf.open(member) as fh:
        fortran = _read_npy_header(fh, path, where)[1]
    if fortran:  # column-major: four readers, each positioned at its column
        cols = [_MemberColumn(zf, member, path, column=k) for k in range(4)]
        for col in cols:
            stack.callback(col.fh.close)

        def fortran_chunks(chunk: int) -> Iterator[Columns]:
            for _ in range(0, total, chunk):
                yield {f: cols[order.index(f)].read(chunk) for f in "xytp"}

        return Source("npz", total, sensor, fortran_chunks)

    def plain_chunks(chunk: int) -> Iterator[Columns]:
        for _ in range(0, total, chunk):
            block = probe.read(chunk)
            yield {f: block[:, order.index(f)] for f in "xytp"}

    return Source("npz", total, sensor, plain_chunks)


# -- HDF5: h5py slices ----------------------------------------------------------------------------------

def _hdf5(path: Path, settings: EventLoadSettings, stack: contextlib.ExitStack) -> Source:
    import h5py

    try:
        f = stack.enter_context(h5py.File(path, "r"))
    except OSError as exc:
        raise InputError(path, f"not a readable HDF5 file: {exc}") from exc
    target = _hdf5_target(f, path, settings)
    sensor = _hdf5_sensor(target, path)
    if isinstance(target, h5py.Group):
        names = [k for k, v in target.items() if isinstance(v, h5py.Dataset)]
        where = f" in HDF5 group {target.name!r}"
        fields = resolve_fields(names, path, where)
        datasets = {f: target[n] for f, n in fields.items()}
        for ds in datasets.values():
            if ds.ndim != 1:
                raise InputError(path, f"dataset {ds.name!r} must be 1-D, got shape {ds.shape}")
        lengths = {f: ds.shape[0] for f, ds in datasets.items()}
        if len(set(lengths.values())) != 1:
            raise InputError(path, f"event datasets{where} differ in length: {lengths}")
        total = lengths["t"]

        def group_chunks(chunk: int) -> Iterator[Columns]:
            for start in range(0, total, chunk):
                yield {f: ds[start:start + chunk] for f, ds in datasets.items()}

        return Source("hdf5", total, sensor, group_chunks)
    where = f" (HDF5 dataset {target.name!r})"
    if target.dtype.names:
        if target.ndim != 1:
            raise InputError(path, f"expected a 1-D compound dataset of events{where}, got shape {target.shape}")
        fields, order = resolve_fields(list(target.dtype.names), path, where), None
    else:
        fields, order = None, _plain_order(target.shape, target.dtype, path, settings, where)
    total = target.shape[0]
    return Source("hdf5", total, sensor, lambda chunk: _rows(target, order, fields, chunk, total))


def _hdf5_target(f, path: Path, settings: EventLoadSettings):
    """The group of x, y, t, p datasets, or the one dataset of events, in an open HDF5 file."""
    import h5py

    if settings.hdf5_path is not None:
        if settings.hdf5_path not in f:
            raise InputError(path, f"no HDF5 object {settings.hdf5_path!r} (top level: {', '.join(f.keys())})")
        return f[settings.hdf5_path]

    def has_fields(group) -> bool:
        lower = {k.lower() for k, v in group.items() if isinstance(v, h5py.Dataset)}
        return all(any(a in lower for a in aliases) for aliases in ALIASES.values())

    for name in ("events", "CD/events"):
        obj = f.get(name)
        if isinstance(obj, h5py.Group) and has_fields(obj):
            return obj
        if isinstance(obj, h5py.Dataset):
            return obj
    if has_fields(f):
        return f
    datasets = [v for v in f.values() if isinstance(v, h5py.Dataset) and v.dtype.names]
    if len(datasets) == 1:
        return datasets[0]
    raise InputError(path, "no events found in HDF5: expected a group '/events' (or the root) with datasets "
                           "x, y, t, p, or a compound dataset '/events'; top level has "
                           f"{', '.join(f.keys()) or 'nothing'} (set hdf5_path to choose)")


def _hdf5_sensor(target, path: Path) -> tuple[int, int] | None:
    """``sensor_size`` or ``width``/``height`` attributes, on the events or any group above them."""
    node = target
    while True:
        attrs = node.attrs
        for key in SENSOR_KEYS:
            if key in attrs:
                return _sensor_from(attrs[key], path, f"HDF5 attribute {key!r} of {node.name!r}")
        if "width" in attrs and "height" in attrs:
            return _sensor_from([attrs["width"], attrs["height"]], path, f"width/height attributes of {node.name!r}")
        if node.name == "/":
            return None
        node = node.parent


# -- N-MNIST / N-Caltech101 binary records, decoded by tonic ------------------------------------------------

def _nmnist(path: Path, settings: EventLoadSettings, stack: contextlib.ExitStack) -> Source:
    from tonic.io import read_mnist_file

    from unibind_plugin_event.events import EVENT_DTYPE

    size = path.stat().st_size
    if size % NMNIST_RECORD:
        raise InputError(path, f"N-MNIST .bin files are whole 5-byte records; this one has {size} bytes "
                               f"({size % NMNIST_RECORD} left over: truncated or not that format)")
    fh = stack.enter_context(path.open("rb"))

    def record_chunks(chunk: int) -> Iterator[Columns]:
        overflows = 0
        while True:
            raw = fh.read(chunk * NMNIST_RECORD)
            if not raw:
                return
            events = read_mnist_file(io.BytesIO(raw), dtype=EVENT_DTYPE, is_stream=True)
            # tonic counts the overflow markers of this chunk; earlier chunks' markers carry over
            events["t"] += overflows * NMNIST_OVERFLOW_US
            overflows += int(np.count_nonzero(np.frombuffer(raw, np.uint8)[1::NMNIST_RECORD] == NMNIST_OVERFLOW_Y))
            yield {f: events[f] for f in "xytp"}

    return Source("nmnist", size // NMNIST_RECORD, None, record_chunks)


# -- AEDAT4, decoded by tonic (through the aedat package) ---------------------------------------------------

def _aedat4(path: Path, settings: EventLoadSettings, stack: contextlib.ExitStack) -> Source:
    try:
        import aedat
    except ImportError as exc:
        raise InputError(path, "AEDAT4 needs the 'aedat' package, which tonic.io.read_aedat4 uses "
                               "(pip install aedat)") from exc
    try:
        described = aedat.Decoder(str(path)).id_to_stream()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the Rust decoder panics on damaged headers: PanicException is a BaseException
        raise InputError(path, f"AEDAT4 header unreadable (damaged file?): {exc}") from exc
    streams = {sid: s for sid, s in described.items() if s.get("type") == "events"}
    if not streams:
        raise InputError(path, "the AEDAT4 file has no event stream")
    stream_id = min(streams)  # the stream tonic.io.read_aedat4 reads
    info = streams[stream_id]
    sensor = (int(info["width"]), int(info["height"])) if info.get("width") and info.get("height") else None

    def packet_chunks(chunk: int) -> Iterator[Columns]:
        try:
            if path.stat().st_size * 4 <= settings.memory_budget_mb * 1e6:
                from tonic.io import read_aedat4  # a small file: tonic reads it whole, as for its datasets

                events = read_aedat4(str(path))
                names = resolve_fields(list(events.dtype.names), path)
                yield {f: events[n] for f, n in names.items()}
                return
            for packet in aedat.Decoder(str(path)):  # a large file: one packet at a time
                if packet["stream_id"] == stream_id and "events" in packet:
                    events = packet["events"]
                    names = resolve_fields(list(events.dtype.names), path)
                    yield {f: events[n] for f, n in names.items()}
        except (InputError, GeneratorExit, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # including the Rust decoder's PanicException
            raise InputError(path, f"AEDAT4 decoding failed (truncated or damaged file?): {exc}") from exc

    return Source("aedat4", None, sensor, packet_chunks)
