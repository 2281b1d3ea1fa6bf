"""Rendering depth as a picture: near is bright, invalid is dark, settings change the picture."""

from __future__ import annotations

import numpy as np
import pytest

from unibind_plugin_depth.render import render
from unibind_plugin_depth.settings import DepthRenderSettings


@pytest.fixture
def steps() -> np.ndarray:
    """Left third 1 m, middle third 3 m, right third no reading (NaN)."""
    depth = np.full((6, 9), 3.0, np.float32)
    depth[:, :3] = 1.0
    depth[:, 6:] = np.nan
    return depth


def _grey(image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=float)


def test_near_is_bright_and_invalid_is_dark(steps) -> None:
    image = render(steps)
    assert image.mode == "RGB" and image.size == (9, 6)
    grey = _grey(image)
    near, far, missing = grey[:, :3].mean(), grey[:, 3:6].mean(), grey[:, 6:].mean()
    assert near == 255 and far == 0 and missing == 0


def test_invert_off_makes_far_bright(steps) -> None:
    grey = _grey(render(steps, DepthRenderSettings(invert=False)))
    assert grey[:, 3:6].mean() == 255 > grey[:, :3].mean()


def test_fixed_range_keeps_absolute_depth(steps) -> None:
    """With range='fixed' the same 1 m looks the same in every map; with 'sample' it is stretched."""
    fixed = DepthRenderSettings(range="fixed", near=0.0, far=4.0)
    grey = _grey(render(steps, fixed))
    assert grey[0, 0] == pytest.approx(255 * 0.75, abs=1) and grey[0, 4] == pytest.approx(255 * 0.25, abs=1)
    shifted = _grey(render(steps + 1.0, fixed))
    assert shifted[0, 0] < grey[0, 0]


def test_grey_replicates_and_jet_colours(steps) -> None:
    grey = np.asarray(render(steps))
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    jet = np.asarray(render(steps, DepthRenderSettings(colormap="jet")), dtype=int)
    near, far = jet[0, 0], jet[0, 4]
    assert near[0] > near[2] and far[2] > far[0]  # near is red, far is blue


def test_outliers_do_not_flatten_the_scene() -> None:
    """A single stray near reading must not squeeze the rest of the map into a few grey levels."""
    ramp = np.tile(np.linspace(2.0, 4.0, 100, dtype=np.float32), (10, 1))
    ramp[0, 0] = 0.2
    grey = _grey(render(ramp))
    assert grey[5].max() - grey[5].min() > 200


def test_nothing_to_render_is_an_error() -> None:
    with pytest.raises(ValueError, match="no valid pixel"):
        render(np.full((4, 4), np.nan, np.float32))
