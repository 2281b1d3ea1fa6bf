"""The shared contract kit, run against this plugin, and its bad-file checks on every format read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from unibind.errors import InputError
from unibind.specs import Spec
from unibind.testing import PluginContract, bad_file_variants, check_loader_rejects
from unibind_plugin_event import writers
from unibind_plugin_event.loading import EventModality
from unibind_plugin_event.simulate import NMNIST_SENSOR


class TestContract(PluginContract):
    plugin = "event"

    @pytest.fixture(autouse=True)
    def _shared(self, event_encoder, hash_text_encoder, simulated_digit) -> None:
        self._encoder, self._text, self._events = event_encoder, hash_text_encoder, simulated_digit

    def sample_file(self, modality: str, tmp_path: Path) -> Path:
        """A real small .npy structured event array: a simulated recording of a real MNIST digit."""
        assert modality == "event"
        return writers.write_npy(tmp_path / "simulated-digit.npy", self._events)

    def other_sample_file(self, modality: str, tmp_path: Path) -> Path:
        """The first half of the same recording: a different, valid stream."""
        return writers.write_npy(tmp_path / "simulated-half.npy", self._events[: len(self._events) // 2])

    def adapter_context(self, spec: Spec, tmp_path: Path) -> dict[str, Any]:
        # the event bridge is the image plugin's ImageNet bridge: it needs the encoder and a text encoder
        return {"encoder": self._encoder, "text_encoder": self._text,
                "in_dim": self._encoder.dim, "out_dim": self._text.dim}


def _other_formats(events: np.ndarray, tmp_path: Path) -> dict[str, Path]:
    return {
        "npz": writers.write_npz(tmp_path / "simulated.npz", events, NMNIST_SENSOR),
        "npz-compressed": writers.write_npz(tmp_path / "simulated-z.npz", events, NMNIST_SENSOR,
                                            layout="structured", compressed=True),
        "hdf5": writers.write_hdf5(tmp_path / "simulated.h5", events, NMNIST_SENSOR),
        "hdf5-compound": writers.write_hdf5(tmp_path / "simulated-c.hdf5", events, layout="compound"),
    }


@pytest.mark.parametrize("kind", ["npz", "npz-compressed", "hdf5", "hdf5-compound"])
def test_kit_bad_file_checks_on_npz_and_hdf5(kind: str, simulated_digit, tmp_path: Path) -> None:
    """Empty, truncated, wrong-format and corrupted copies of a simulated recording all raise InputError."""
    good = _other_formats(simulated_digit, tmp_path)[kind]
    loader = EventModality()
    assert len(loader.load(good)) == len(simulated_digit)
    check_loader_rejects(loader, bad_file_variants(good, tmp_path / f"bad-{kind}"))


def test_kit_bad_file_checks_on_nmnist_bin(simulated_digit, tmp_path: Path) -> None:
    """N-MNIST .bin has no header, length or checksum: what can be caught is caught.

    A cut inside a record, text, and scrambled leading records (their timestamps
    jump, so time runs backwards) are refused. A cut exactly at a record
    boundary is indistinguishable from a shorter recording and loads as one.
    """
    good = writers.write_nmnist(tmp_path / "simulated.bin", simulated_digit)
    loader = EventModality()
    variants = bad_file_variants(good, tmp_path / "bad-bin")
    mid_record = variants["truncated"].read_bytes()
    if len(mid_record) % 5 == 0:
        mid_record = mid_record[:-2]
    variants["truncated"].write_bytes(mid_record)
    check_loader_rejects(loader, variants)

    boundary = tmp_path / "cut-at-record.bin"
    boundary.write_bytes(good.read_bytes()[: 5 * 1000])
    assert len(loader.load(boundary)) == 1000


def test_kit_bad_file_checks_on_aedat4(simulated_digit, tmp_path: Path) -> None:
    """AEDAT4 written by iniVation's own dv-processing writer, then broken the kit's ways."""
    good = writers.write_aedat4(tmp_path / "simulated.aedat4", simulated_digit, NMNIST_SENSOR)
    loader = EventModality()
    assert len(loader.load(good)) == len(simulated_digit)
    check_loader_rejects(loader, bad_file_variants(good, tmp_path / "bad-aedat4"))


def test_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("t,x,y,p\n1,2,3,1\n")
    with pytest.raises(InputError, match="not a recognised event file") as caught:
        EventModality().load(path)
    assert str(path) in str(caught.value)
