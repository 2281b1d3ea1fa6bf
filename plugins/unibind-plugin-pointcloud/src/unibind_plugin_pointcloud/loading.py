"""The point-cloud loader: tells the format from the file's first bytes, then its reader.

The content decides, not the name: a ``.ply`` that is really an OFF is read
as OFF, and a ``.ply`` that is neither is refused by the PLY reader with a
PLY-specific message. Files whose content has no signature (XYZ/TXT) are
read as text when their suffix says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from unibind.errors import InputError
from unibind.modality import Modality
from unibind_plugin_pointcloud.cloud import PointCloud
from unibind_plugin_pointcloud.settings import PointCloudLoadSettings

TEXT_SUFFIXES = (".xyz", ".xyzn", ".xyzrgb", ".txt", ".pts", ".csv")
SUFFIX_FORMAT = {".ply": "ply", ".off": "off", ".pcd": "pcd", ".npy": "npy", ".npz": "npz",
                 **{s: "xyz" for s in TEXT_SUFFIXES}}
_OFF = re.compile(rb"^\s*(ST)?C?N?4?n?OFF")
_PCD = re.compile(rb"^(\s*#[^\n]*\n)*\s*(VERSION|FIELDS)\b")


def sniff(head: bytes) -> str | None:
    """The format a file's first bytes announce, or None for text without a signature."""
    if head.startswith(b"ply"):
        return "ply"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if _OFF.match(head):
        return "off"
    if _PCD.match(head):
        return "pcd"
    return None


def _reader(fmt: str) -> Callable[[Path, PointCloudLoadSettings], PointCloud]:
    if fmt == "ply":
        from unibind_plugin_pointcloud.readers.ply import read_ply as reader
    elif fmt == "off":
        from unibind_plugin_pointcloud.readers.off import read_off as reader
    elif fmt == "pcd":
        from unibind_plugin_pointcloud.readers.pcd import read_pcd as reader
    elif fmt == "npy":
        from unibind_plugin_pointcloud.readers.arrays import read_npy as reader
    elif fmt == "npz":
        from unibind_plugin_pointcloud.readers.arrays import read_npz as reader
    else:
        from unibind_plugin_pointcloud.readers.xyz import read_xyz as reader
    return reader


class PointCloudModality(Modality):
    """Reads PLY, OFF, PCD, XYZ/TXT/PTS, NPY and NPZ into a :class:`PointCloud`."""

    name = "pointcloud"

    def __init__(self, settings: PointCloudLoadSettings | None = None):
        super().__init__(settings or PointCloudLoadSettings())
        self.settings: PointCloudLoadSettings

    def format_of(self, path: Path) -> str:
        with path.open("rb") as fh:
            head = fh.read(512)
        found = sniff(head)
        by_name = SUFFIX_FORMAT.get(path.suffix.lower())
        if found is not None:
            return found
        if by_name in ("ply", "off", "pcd", "npy", "npz"):
            return by_name  # its reader refuses the file with a message about that format
        if by_name == "xyz" or by_name is None and _looks_like_text(head):
            return "xyz"
        raise InputError(path, "unrecognised point-cloud format (not PLY, OFF, PCD, NPY/NPZ or text XYZ)")

    def read(self, path: Path) -> PointCloud:
        try:
            return _reader(self.format_of(path))(path, self.settings)
        except UnicodeDecodeError as exc:
            raise InputError(path, f"binary data where text was expected ({exc.reason})") from None


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("ascii")
    except UnicodeDecodeError:
        return False
    return True
