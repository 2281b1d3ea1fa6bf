"""The contract kit itself: it must catch the mistakes it exists to catch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unibind.encoders.base import Encoder
from unibind.modality import Modality, TextModality
from unibind.testing import (
    bad_file_variants,
    check_encoder_output,
    check_loader_rejects,
    heavy_modules_after_registration,
)


class _AcceptsAnything(Modality):
    name = "lenient"

    def read(self, path: Path):
        return path.read_bytes()


class _NaNEncoder(Encoder):
    dim = 4

    def preprocess(self, sample):
        return torch.zeros(3)

    def forward(self, batch):
        return torch.full((batch.shape[0], self.dim), float("nan"))


class _WrongDim(_NaNEncoder):
    def forward(self, batch):
        return torch.zeros(batch.shape[0], 5)


def test_kit_catches_a_loader_that_accepts_broken_files(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("hello world, a perfectly good text file")
    variants = bad_file_variants(good, tmp_path / "bad")
    assert set(variants) == {"empty", "truncated", "wrong_format", "corrupted"}
    with pytest.raises(AssertionError, match="was accepted by _AcceptsAnything"):
        check_loader_rejects(_AcceptsAnything(), variants)


def test_text_loader_passes_the_kit_on_its_own_bad_files(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("a sound of rain")
    loader = TextModality()
    assert loader.load(good) == "a sound of rain"
    # text has no header to corrupt: check the failures it must catch
    empty, binary = tmp_path / "e.txt", tmp_path / "b.txt"
    empty.write_bytes(b"")
    binary.write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    check_loader_rejects(loader, {"empty": empty, "not_utf8": binary, "missing": tmp_path / "no.txt"})


def test_kit_catches_nan_and_wrong_dimensions():
    with pytest.raises(AssertionError, match="NaN"):
        check_encoder_output(_NaNEncoder(), ["a", "b"])
    with pytest.raises(AssertionError, match="dim 5 != declared 4"):
        check_encoder_output(_WrongDim(), ["a", "b"])


def test_registration_probe_reports_heavy_imports(make_plugin, tmp_path, monkeypatch):
    plugin_dir = tmp_path / "site"
    plugin_dir.mkdir()
    (plugin_dir / "heavy_plugin.py").write_text("import torch  # imported at registration: wrong\n")
    dist = plugin_dir / "heavy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: heavy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[unibind]\nheavy = heavy_plugin\n")
    monkeypatch.setenv("PYTHONPATH", str(plugin_dir))
    assert heavy_modules_after_registration("heavy") [:1] == ["torch"]


def test_bad_copies_keep_a_double_suffix_and_a_text_format_may_skip_truncation(tmp_path):
    from unibind.testing import BAD_FILE_KINDS, bad_file_variants

    good = tmp_path / "walk.imu.csv"
    good.write_text("t,x,y,z\n" + "".join(f"{i},0,0,1\n" for i in range(30)))
    every = bad_file_variants(good, tmp_path / "all")
    assert set(every) == set(BAD_FILE_KINDS)
    assert all(p.name.endswith(".imu.csv") for p in every.values())
    assert len(every["truncated"].read_bytes()) == len(good.read_bytes()) // 3
    assert every["corrupted"].read_bytes()[64:] == good.read_bytes()[64:]
    assert every["corrupted"].read_bytes()[:64] != good.read_bytes()[:64]
    text = bad_file_variants(good, tmp_path / "text", skip=("truncated",))
    assert set(text) == set(BAD_FILE_KINDS) - {"truncated"}
    with pytest.raises(ValueError, match="unknown bad-file kinds"):
        bad_file_variants(good, tmp_path / "typo", skip=("truncate",))
