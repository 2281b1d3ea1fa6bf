"""Normalisation: percentile stretch, temperature window, 8-bit ImageBind-style, and the input tensor.

Frames are simulated (no real thermal data ships).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import ValidationError

from unibind_plugin_thermal.frame import ThermalFrame
from unibind_plugin_thermal.normalise import counts_percentiles, imagebind_tensor, render, to_unit
from unibind_plugin_thermal.settings import ThermalNormalisation


def _counts(values: np.ndarray) -> ThermalFrame:
    return ThermalFrame(values.astype(np.uint16), "counts", 16, (0.01, 0.0))


def test_percentile_stretch_maps_p1_to_black_and_p99_to_white(person_counts) -> None:
    frame = _counts(person_counts)
    unit = to_unit(frame)  # auto: 16-bit counts are percentile-stretched, 1st..99th
    low, high = np.percentile(person_counts, [1, 99])
    inside = (person_counts > low) & (person_counts < high)
    assert unit.dtype == np.float32 and unit.min() == 0.0 and unit.max() == 1.0
    np.testing.assert_allclose(unit[inside], (person_counts[inside] - low) / (high - low), atol=1e-5)
    black, white = (unit == 0).mean(), (unit == 1).mean()
    print(f"\nsimulated person: p1..p99 = {low:.0f}..{high:.0f} counts; {black:.2%} black, {white:.2%} white")
    assert 0.005 <= black <= 0.02 and 0.005 <= white <= 0.02


def test_histogram_percentiles_equal_numpys(person_counts) -> None:
    rng = np.random.default_rng(5)
    for counts in (person_counts, rng.integers(0, 256, size=(7, 9), dtype=np.uint8),
                   np.array([[3, 3, 3, 40000]], np.uint16)):
        for q in ((1.0, 99.0), (0.0, 100.0), (12.5, 50.0), (33.3, 66.6)):
            np.testing.assert_allclose(counts_percentiles(counts, q), np.percentile(counts, q), rtol=0, atol=1e-6)


def test_percentiles_ignore_stuck_pixels_that_ruin_min_max(person_counts) -> None:
    """The simulated sensor has dead (0) and hot (65535) pixels: a min..max stretch flattens the scene."""
    assert person_counts.min() == 0 and person_counts.max() == 65535
    frame = _counts(person_counts)
    stretched = len(np.unique(np.asarray(render(frame))))
    min_max = len(np.unique(np.asarray(render(frame, ThermalNormalisation(contrast="percentile", low_percentile=0,
                                                                          high_percentile=100)))))
    print(f"\ngrey levels used: p1..p99 {stretched}, min..max {min_max}")
    assert stretched >= 150 and min_max < 30


def test_16bit_detail_survives_where_8bit_conversions_lose_it() -> None:
    """A person 0.3 K warmer than a 290 K wall: 30 counts at 0.01 K/count."""
    rng = np.random.default_rng(0)
    counts = 29000 + np.rint(rng.normal(0, 3, size=(64, 64)))  # ~30 mK noise
    counts[20:44, 24:40] += 30
    frame = _counts(counts)
    target = np.zeros((64, 64), bool)
    target[20:44, 24:40] = True

    def contrast(grey: np.ndarray) -> float:
        return float(grey[target].mean() - grey[~target].mean())

    ours = contrast(np.asarray(render(frame).convert("L"), dtype=float))
    full_range = contrast(np.asarray(render(frame, ThermalNormalisation(contrast="bit_depth")).convert("L"),
                                     dtype=float))
    pillow_l = np.asarray(Image.fromarray(counts.astype(np.uint16)).convert("L"), dtype=float)
    print(f"\n0.3 K target: {ours:.1f} grey levels with the percentile stretch, {full_range:.2f} dividing by "
          f"65535, Pillow convert('L') gives {np.unique(pillow_l)} everywhere")
    assert ours > 100 and full_range < 1
    assert np.unique(pillow_l).tolist() == [255.0]  # ImageBind's convert("L") clips 16-bit data to white


def test_window_is_fixed_in_kelvin_for_counts_and_temperatures() -> None:
    kelvin = np.array([[263.15, 293.15, 323.15, 400.0]], dtype=np.float32)
    window = ThermalNormalisation(contrast="window")  # default -10..50 °C
    expected = [[0.0, 0.5, 1.0, 1.0]]
    np.testing.assert_allclose(to_unit(ThermalFrame(kelvin, "kelvin", 32), window), expected, atol=1e-5)
    np.testing.assert_allclose(to_unit(_counts(np.rint(kelvin * 100)), window), expected, atol=1e-4)
    narrow = ThermalNormalisation(contrast="window", window_min_k=290.0, window_max_k=310.0)
    np.testing.assert_allclose(to_unit(ThermalFrame(kelvin, "kelvin", 32), narrow), [[0.0, 0.1575, 1.0, 1.0]],
                               atol=1e-4)


def test_window_needs_temperatures() -> None:
    frame = ThermalFrame(np.full((4, 4), 100, np.uint8), "counts", 8)
    with pytest.raises(ValueError, match="window' needs temperatures"):
        to_unit(frame, ThermalNormalisation(contrast="window"))


def test_8bit_is_imagebind_style_and_black_hot_inverts() -> None:
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    frame = ThermalFrame(grey, "counts", 8)
    np.testing.assert_allclose(to_unit(frame), grey / 255, atol=1e-7)  # ToTensor: / 255, no stretch
    np.testing.assert_allclose(to_unit(frame, ThermalNormalisation(white_hot=False)), 1 - grey / 255, atol=1e-6)
    flat = _counts(np.full((5, 5), 29315))
    assert np.all(to_unit(flat) == 0.5)


def test_imagebind_tensor_is_resized_cropped_and_replicated() -> None:
    unit = np.tile(np.linspace(0, 1, 160, dtype=np.float32), (120, 1))  # a left-to-right ramp
    x = imagebind_tensor(unit)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    assert x.min() >= -1 and x.max() <= 1
    # short side 120 -> 224, long side 160 -> 298 (truncated, as torchvision), crop drops 37 columns each side
    assert -0.9 < x[0, :, 0].mean() < -0.6 and 0.6 < x[0, :, -1].mean() < 0.9
    for value, want in ((0.0, -1.0), (0.5, 0.0), (1.0, 1.0)):
        assert torch.allclose(imagebind_tensor(np.full((30, 40), value, np.float32), 32), torch.tensor(want), atol=1e-6)


def test_settings_refuse_empty_ranges() -> None:
    with pytest.raises(ValidationError, match="low_percentile"):
        ThermalNormalisation(low_percentile=60, high_percentile=40)
    with pytest.raises(ValidationError, match="window_min_k"):
        ThermalNormalisation(window_min_k=300, window_max_k=290)
