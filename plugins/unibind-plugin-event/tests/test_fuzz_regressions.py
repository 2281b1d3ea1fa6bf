"""Bugs the reader fuzzer (scripts/reader_fuzzer.py) found, each kept as a regression test."""

from __future__ import annotations

from pathlib import Path

import pytest

from unibind.errors import InputError
from unibind_plugin_event import writers
from unibind_plugin_event.loading import EventModality


def test_a_damaged_aedat4_header_is_an_input_error_not_a_rust_panic(tmp_path: Path, simulated_digit) -> None:
    """Fuzz: six header bytes edited made the aedat decoder panic; pyo3's PanicException is a
    BaseException, so it went past every ``except Exception`` and ended the whole batch."""
    path = writers.write_aedat4(tmp_path / "edited.aedat4", simulated_digit[:600], (34, 34))
    data = bytearray(path.read_bytes())
    for offset, value in ((22, 255), (53, 109), (71, 255), (97, 0), (101, 255), (116, 0)):
        data[offset] = value
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"edited\.aedat4: AEDAT4 header unreadable"):
        EventModality().load(path)
