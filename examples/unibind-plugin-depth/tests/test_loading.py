"""The depth loader: formats, units, invalid readings and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unibind.errors import InputError, SettingsError
from unibind.plugins import PluginManager
from unibind_plugin_depth.loading import DepthModality
from unibind_plugin_depth.settings import DepthSettings
from unibind_plugin_depth.simulated import simulated_scene, write_png_mm


@pytest.fixture
def metres() -> np.ndarray:
    """A simulated scene (sphere before a wall), in metres, 0 where there is no reading."""
    return simulated_scene("sphere", np.random.default_rng(7), size=48)


def test_millimetre_png_and_metre_npy_of_one_scene_load_identically(tmp_path: Path, metres) -> None:
    loader = DepthModality()
    np.save(tmp_path / "metres.npy", metres)
    np.save(tmp_path / "mm.npy", np.round(metres * 1000).astype(np.uint16))
    from_npy = loader.load(tmp_path / "metres.npy")
    from_int_npy = loader.load(tmp_path / "mm.npy")
    from_png = loader.load(write_png_mm(tmp_path / "mm.depth.png", metres))

    assert from_png.dtype == from_npy.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(from_png), metres == 0)  # 0 = no reading -> NaN
    np.testing.assert_array_equal(from_png, from_npy)  # NaN positions compare equal here
    np.testing.assert_array_equal(from_int_npy, from_npy)
    assert 1.0 < np.nanmedian(from_png) < 8.0  # metres, not millimetres


def test_settings_change_units_and_valid_range(tmp_path: Path) -> None:
    raw = np.array([[0, 500, 5000], [20000, 40000, 60000]], dtype=np.uint16)
    path = tmp_path / "tum.depth.png"
    Image.fromarray(raw).save(path)

    kinect = DepthModality().load(path)  # mm, 0.1-10 m
    np.testing.assert_allclose(kinect, [[np.nan, 0.5, 5.0], [np.nan] * 3], equal_nan=True)

    tum = DepthModality(DepthSettings(units_per_metre=5000, max_depth=20)).load(path)
    np.testing.assert_allclose(tum, [[np.nan, 0.1, 1.0], [4.0, 8.0, 12.0]], equal_nan=True)


def test_float_npy_marks_nan_inf_and_invalid_value(tmp_path: Path) -> None:
    path = tmp_path / "f.npy"
    np.save(path, np.array([[np.nan, np.inf, 0.0, 2.0], [0.05, 11.0, 3.5, 9.99]], dtype=np.float64))
    out = DepthModality().load(path)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[np.nan, np.nan, np.nan, 2.0], [np.nan, np.nan, 3.5, 9.99]],
                               rtol=1e-6, equal_nan=True)


def _save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array, allow_pickle=True)
    return path


@pytest.mark.parametrize(("name", "array", "problem"), [
    ("cube.npy", np.ones((4, 5, 3), np.float32), "must be 2-D"),
    ("row.npy", np.ones(7, np.float32), "must be 2-D"),
    ("zeros.npy", np.zeros((8, 8), np.uint16), "no valid depth"),
    ("nan.npy", np.full((8, 8), np.nan, np.float32), "no valid depth"),
    ("too-far.npy", np.full((8, 8), 50.0, np.float32), "no valid depth"),
    ("bytes.npy", np.full((8, 8), 3, np.uint8), "unsupported depth dtype uint8"),
    ("flags.npy", np.ones((8, 8), bool), "unsupported depth dtype bool"),
    ("complex.npy", np.ones((8, 8), np.complex64), "unsupported depth dtype complex64"),
    ("empty-array.npy", np.zeros((0, 4), np.float32), "no pixels"),
])
def test_bad_arrays_raise_input_error_naming_the_file(tmp_path: Path, name, array, problem) -> None:
    path = _save(tmp_path / name, array)
    with pytest.raises(InputError, match=problem) as caught:
        DepthModality().load(path)
    assert caught.value.source == str(path) and str(path) in str(caught.value)


class _Tripwire:
    """Unpickling this creates a file: proof that a loader ran a pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickled_object_array_is_refused_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    path = _save(tmp_path / "evil.npy", np.array([[_Tripwire(marker)]], dtype=object))
    assert not marker.exists()
    with pytest.raises(InputError, match="refusing to unpickle") as caught:
        DepthModality().load(path)
    assert str(path) in str(caught.value)
    assert not marker.exists(), "the loader unpickled a user's file"


@pytest.mark.parametrize("mode", ["L", "RGB", "P"])
def test_photo_pngs_are_not_depth(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"photo-{mode}.png"
    Image.new(mode, (8, 8), 1 if mode != "RGB" else (1, 2, 3)).save(path)
    with pytest.raises(InputError, match=f"not a 16-bit depth PNG \\(mode {mode}\\)"):
        DepthModality().load(path)


def test_other_formats_are_refused_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "archive.npy"
    np.savez(path.with_suffix(".npz"), depth=np.ones((4, 4)))
    path.write_bytes(path.with_suffix(".npz").read_bytes())  # a zip wearing a .npy name
    with pytest.raises(InputError, match="neither a .npy array nor a PNG"):
        DepthModality().load(path)


def test_settings_reject_an_empty_range() -> None:
    with pytest.raises(SettingsError, match="min_depth"):
        PluginManager(enabled={"depth"}).load().registry.get("modality", "depth").build(
            {"min_depth": 5, "max_depth": 1})
