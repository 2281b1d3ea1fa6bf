"""Colour-map inversion: a thermal rendering's colours back to the intensities they encode.

Cameras and viewers often export only a colour rendering (white-hot grey,
iron, inferno, rainbow). If the colour map is known, each colour names a
position along it; the nearest entry of the map's look-up table recovers that
position to within a step or two of the table (1/255 each for 256 entries)
on lossless files: renderers floor or round positions, and truncate or round
colours to bytes, differently. The tables come from matplotlib, so any map it knows can be inverted.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Entries of the look-up table: 8-bit renderings cannot hold more distinct steps.
LUT_SIZE = 256


@lru_cache(maxsize=16)
def colormap_lut(name: str, size: int = LUT_SIZE) -> np.ndarray:
    """``[size, 3]`` float32 RGB in [0, 1] of matplotlib colour map ``name``, sampled evenly."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        known = ", ".join(sorted(n for n in matplotlib.colormaps if not n.endswith("_r"))[:40])
        raise ValueError(f"unknown matplotlib colour map {name!r} (known include: {known}, ...)") from None
    lut = cmap.resampled(size)(np.arange(size))[:, :3]
    return np.ascontiguousarray(lut, dtype=np.float32)


def invert_colormap(rgb: np.ndarray, name: str) -> tuple[np.ndarray, float]:
    """``[H, W, 3]`` uint8 colours to ``[H, W]`` float32 positions in [0, 1] along colour map ``name``.

    Returns the intensities and the mean distance of the pixels to their
    nearest table colour (RGB in [0, 1]): near 0 when the picture really was
    drawn with that map. Distances are computed once per distinct colour, so
    the cost grows with the number of colours (at most 256 for a clean
    rendering), not with the number of pixels.
    """
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected [H, W, 3] uint8 RGB, got {rgb.shape} {rgb.dtype}")
    lut = colormap_lut(name)
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    colours, index = np.unique(packed.ravel(), return_inverse=True)
    unique_rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=-1)
    unique_rgb = unique_rgb.astype(np.float32) / 255.0
    nearest = np.empty(len(colours), dtype=np.int64)
    distance = np.empty(len(colours), dtype=np.float32)
    for start in range(0, len(colours), 4096):  # bounded memory: [4096, 256] distances at a time
        chunk = unique_rgb[start:start + 4096]
        d2 = ((chunk[:, None, :] - lut[None, :, :]) ** 2).sum(-1)
        nearest[start:start + len(chunk)] = d2.argmin(axis=1)
        distance[start:start + len(chunk)] = np.sqrt(d2.min(axis=1))
    positions = (nearest / (len(lut) - 1)).astype(np.float32)
    counts = np.bincount(index, minlength=len(colours))
    mean_distance = float((distance * counts).sum() / counts.sum())
    return positions[index].reshape(rgb.shape[:2]), mean_distance


def apply_colormap(intensity: np.ndarray, name: str) -> np.ndarray:
    """``[H, W]`` in [0, 1] to an ``[H, W, 3]`` uint8 rendering with colour map ``name``.

    The inverse of :func:`invert_colormap`, for making colour renderings
    (tests, pictures of what was inverted).
    """
    lut = colormap_lut(name)
    steps = np.clip(np.rint(np.asarray(intensity, dtype=np.float64) * (len(lut) - 1)), 0, len(lut) - 1)
    return np.rint(lut[steps.astype(np.int64)] * 255).astype(np.uint8)
