"""Drawing a depth map as an RGB picture, so an image encoder can see it.

Pure numpy and PIL, no torch: a user can look at exactly what the encoder sees.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from unibind_plugin_depth.settings import DepthRenderSettings


def normalise(depth: np.ndarray, settings: DepthRenderSettings) -> np.ndarray:
    """Valid depths to [0, 1] (1 = near when ``invert``); invalid (NaN) pixels to 0, i.e. dark."""
    valid = np.isfinite(depth)
    if not valid.any():
        raise ValueError("depth map has no valid pixel to render")
    if settings.range == "fixed":
        near, far = settings.near, settings.far
    else:
        near, far = np.percentile(depth[valid], [settings.clip_percent, 100 - settings.clip_percent])
    span = max(float(far - near), 1e-6)  # a flat map renders as one even tone, not a division by zero
    x = np.clip((np.where(valid, depth, far) - near) / span, 0.0, 1.0)
    if settings.invert:
        x = 1.0 - x
    return np.where(valid, x, 0.0).astype(np.float32)


def colourise(x: np.ndarray, colormap: str) -> np.ndarray:
    """``[H, W]`` in [0, 1] to ``[H, W, 3]`` in [0, 1]."""
    if colormap == "gray":
        return np.repeat(x[..., None], 3, axis=-1)
    if colormap == "jet":
        # Three overlapping triangles: 0 is dark blue, 0.5 green, 1 dark red.
        centres = np.array([0.75, 0.5, 0.25], dtype=np.float32)  # R, G, B
        return np.clip(1.5 - np.abs(4.0 * x[..., None] - 4.0 * centres), 0.0, 1.0)
    raise ValueError(f"unknown colormap {colormap!r}")


def render(depth: np.ndarray, settings: DepthRenderSettings | None = None) -> Image.Image:
    """A depth map in metres (NaN invalid) as an 8-bit RGB image."""
    settings = settings or DepthRenderSettings()
    rgb = colourise(normalise(np.asarray(depth, dtype=np.float32), settings), settings.colormap)
    return Image.fromarray(np.round(rgb * 255).astype(np.uint8))  # [H, W, 3] uint8 is RGB
