"""From a thermal frame to the grey picture an image encoder sees: contrast, then pixels.

Pure numpy and PIL (torch only in :func:`imagebind_tensor`), so a user can
look at exactly what the encoder sees: ``render(frame).save("seen.png")``.
"""

from __future__ import annotations

import numpy as np

from unibind_plugin_thermal.frame import ThermalFrame
from unibind_plugin_thermal.settings import ThermalNormalisation

#: ImageBind's thermal input normalisation: Normalize((0.5,), (0.5,)) on [0, 1], i.e. to [-1, 1].
IMAGEBIND_MEAN = 0.5
IMAGEBIND_STD = 0.5


def contrast_of(frame: ThermalFrame, settings: ThermalNormalisation) -> str:
    """The contrast rule that applies: resolves 'auto' by what the frame holds."""
    if settings.contrast != "auto":
        return settings.contrast
    if frame.kind == "intensity" or (frame.kind == "counts" and frame.bit_depth == 8):
        return "bit_depth"
    return "percentile"


def to_unit(frame: ThermalFrame, settings: ThermalNormalisation | None = None) -> np.ndarray:
    """``[H, W]`` float32 in [0, 1], white = hot unless ``white_hot`` is off.

    ``percentile`` maps the frame's ``low_percentile`` to 0 and
    ``high_percentile`` to 1 (a flat frame becomes mid-grey), ``window`` maps
    ``window_min_k..window_max_k`` (raw counts are converted with the frame's
    calibration first), ``bit_depth`` divides counts by ``2**bits - 1``.
    """
    settings = settings or ThermalNormalisation()
    rule = contrast_of(frame, settings)
    values = frame.values
    if rule == "bit_depth":
        if frame.kind == "intensity":
            unit = values.astype(np.float32)
        elif frame.kind == "counts":
            unit = values.astype(np.float32) / np.float32(2**frame.bit_depth - 1)
        else:
            raise ValueError("contrast='bit_depth' needs integer counts; this frame holds temperatures "
                             "(use 'percentile' or 'window')")
    elif rule == "window":
        kelvin = frame.kelvin()
        if kelvin is None:
            raise ValueError(f"contrast='window' needs temperatures, but this frame holds {frame.kind} "
                             f"({frame.source or 'no radiometric data'}): 8-bit and colour renderings "
                             "carry none; use 'percentile' or 'auto'")
        unit = _stretch(kelvin, settings.window_min_k, settings.window_max_k)
    elif rule == "percentile":
        quantiles = (settings.low_percentile, settings.high_percentile)
        if values.dtype in (np.uint8, np.uint16):
            low, high = counts_percentiles(values, quantiles)
        else:
            low, high = (float(v) for v in np.percentile(values, quantiles))
        if high <= low:
            unit = np.full(values.shape, 0.5, dtype=np.float32)
        elif values.dtype in (np.uint8, np.uint16):  # a table per possible count: one lookup per pixel
            table = _stretch(np.arange(np.iinfo(values.dtype).max + 1, dtype=np.float32), low, high)
            unit = table[values]
        else:
            unit = _stretch(values.astype(np.float32), low, high)
    else:  # pragma: no cover - the settings model allows nothing else
        raise ValueError(f"unknown contrast {rule!r}")
    if not settings.white_hot:
        unit = 1.0 - unit
    return np.clip(unit, 0.0, 1.0).astype(np.float32, copy=False)


def counts_percentiles(counts: np.ndarray, percentiles: tuple[float, ...]) -> tuple[float, ...]:
    """``np.percentile`` (linear interpolation) of 8/16-bit counts from their histogram.

    Exact, and linear in the number of pixels: the histogram has at most
    65536 bins, so no sort or partition of the frame is needed.
    """
    cumulative = np.cumsum(np.bincount(counts.ravel(), minlength=1))
    n = int(cumulative[-1])
    out = []
    for q in percentiles:
        rank = q / 100 * (n - 1)
        below, above = int(np.floor(rank)), int(np.ceil(rank))
        lo = int(np.searchsorted(cumulative, below, side="right"))  # the count at sorted position `below`
        hi = int(np.searchsorted(cumulative, above, side="right"))
        out.append(lo + (hi - lo) * (rank - below))
    return tuple(out)


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return ((values - np.float32(low)) / np.float32(high - low)).astype(np.float32)


def unit_to_image(unit: np.ndarray):
    """A grey picture in [0, 1] as an 8-bit RGB PIL image, the grey replicated in R, G and B."""
    from PIL import Image

    grey = np.rint(np.clip(unit, 0.0, 1.0) * 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def render(frame: ThermalFrame, settings: ThermalNormalisation | None = None):
    """What an image encoder sees of ``frame`` (before its resize and crop), as a PIL RGB image."""
    return unit_to_image(to_unit(frame, settings))


def imagebind_tensor(unit: np.ndarray, size: int = 224):
    """ImageBind's thermal transform on a grey picture in [0, 1], replicated to ``[3, size, size]``.

    Resize the short side to ``size`` (bicubic with antialiasing, like
    torchvision's ``Resize`` on a PIL image), centre crop, ``(x - 0.5) / 0.5``.
    Done in float, so 16-bit detail is not rounded to 8 bits on the way.
    """
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(unit, dtype=np.float32))[None, None]
    height, width = x.shape[-2:]
    scale = size / min(height, width)
    new_h, new_w = max(size, int(height * scale)), max(size, int(width * scale))  # as torchvision: truncated
    if (new_h, new_w) != (height, width):
        x = F.interpolate(x, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = x[..., top:top + size, left:left + size].clamp(0.0, 1.0)
    x = (x - IMAGEBIND_MEAN) / IMAGEBIND_STD
    return x[0].expand(3, -1, -1).contiguous()
