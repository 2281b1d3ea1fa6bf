"""Colour-map inversion: renderings of simulated frames back to the intensities they were drawn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unibind.errors import InputError
from unibind_plugin_thermal.colormap import apply_colormap, colormap_lut, invert_colormap
from unibind_plugin_thermal.frame import ThermalFrame
from unibind_plugin_thermal.loading import ThermalModality
from unibind_plugin_thermal.normalise import to_unit
from unibind_plugin_thermal.settings import ThermalLoadSettings


@pytest.fixture
def truth(person_counts) -> np.ndarray:
    """A simulated person frame, percentile-stretched to [0, 1] (continuous, not yet quantised)."""
    return to_unit(ThermalFrame(person_counts, "counts", 16, (0.01, 0.0)))


def _matplotlib_rendering(unit: np.ndarray, name: str) -> np.ndarray:
    """What viewer software does: matplotlib's own colour mapping to 8-bit RGB (independent of our table)."""
    import matplotlib

    return matplotlib.colormaps[name](unit, bytes=True)[..., :3]


def _save(path: Path, rgb: np.ndarray, **options) -> Path:
    Image.fromarray(rgb).save(path, **options)
    return path


@pytest.mark.parametrize("name", ["inferno", "magma", "turbo", "gray"])
def test_lossless_rendering_inverts_within_two_steps(tmp_path: Path, truth, name: str) -> None:
    path = _save(tmp_path / f"{name}.thermal.png", _matplotlib_rendering(truth, name))
    frame = ThermalModality(ThermalLoadSettings(colormap=name)).load(path)
    assert frame.kind == "intensity" and frame.values.dtype == np.float32
    error = np.abs(frame.values - truth)
    print(f"\n{name}: simulated frame from a lossless rendering, mean |error| {error.mean():.5f}, "
          f"max {error.max():.5f} (one step = {1 / 255:.5f})")
    # a 256-colour rendering holds one step (1/255) at best; matplotlib also floors positions to table
    # entries and truncates colours to bytes, which can land one entry lower
    assert error.max() <= 2 / 255 + 1e-6
    assert error.mean() < 1 / 255


def test_jpeg_rendering_inverts_approximately(tmp_path: Path, truth) -> None:
    """JPEG blurs colours; the nearest table colour still lands close to the drawn intensity."""
    path = _save(tmp_path / "inferno.thermal.jpg", _matplotlib_rendering(truth, "inferno"), quality=90)
    frame = ThermalModality(ThermalLoadSettings(colormap="inferno")).load(path)
    error = np.abs(frame.values - truth)
    print(f"\ninferno JPEG q90 (simulated frame): mean |error| {error.mean():.4f}, "
          f"99th percentile {np.percentile(error, 99):.4f}")
    assert error.mean() < 0.02
    assert np.corrcoef(frame.values.ravel(), truth.ravel())[0, 1] > 0.98


def test_reversed_map_gives_reversed_intensity(tmp_path: Path, truth) -> None:
    path = _save(tmp_path / "inferno.thermal.png", apply_colormap(truth, "inferno"))
    reversed_ = ThermalModality(ThermalLoadSettings(colormap="inferno_r")).load(path)
    np.testing.assert_allclose(reversed_.values, 1 - truth, atol=0.5 / 255 + 1e-6)  # apply_colormap rounds


def test_inversion_is_off_by_default(tmp_path: Path, truth) -> None:
    path = _save(tmp_path / "inferno.thermal.png", apply_colormap(truth, "inferno"))
    frame = ThermalModality().load(path)
    assert frame.kind == "counts" and "luminance" in frame.source


def test_a_rendering_in_another_map_is_refused(tmp_path: Path, truth) -> None:
    path = _save(tmp_path / "viridis.thermal.png", apply_colormap(truth, "viridis"))
    _, distance = invert_colormap(apply_colormap(truth, "viridis"), "inferno")
    print(f"\nviridis rendering against the inferno table: mean colour distance {distance:.3f}")
    with pytest.raises(InputError, match="not from the 'inferno' colour map"):
        ThermalModality(ThermalLoadSettings(colormap="inferno")).load(path)


def test_unknown_map_is_named(tmp_path: Path, truth) -> None:
    path = _save(tmp_path / "x.thermal.png", apply_colormap(truth, "inferno"))
    with pytest.raises(InputError, match="unknown matplotlib colour map 'ironbow-9000'"):
        ThermalModality(ThermalLoadSettings(colormap="ironbow-9000")).load(path)


def test_lut_is_matplotlibs() -> None:
    import matplotlib

    lut = colormap_lut("inferno")
    assert lut.shape == (256, 3)
    np.testing.assert_allclose(lut[0], matplotlib.colormaps["inferno"](0.0)[:3], atol=1e-6)
    np.testing.assert_allclose(lut[-1], matplotlib.colormaps["inferno"](1.0)[:3], atol=1e-6)
