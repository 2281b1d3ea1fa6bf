"""Image files to upright 8-bit RGB pictures, whatever mode the file stores.

Encoders all want RGB, but files arrive as greyscale, palette, CMYK, with
alpha, in 16-bit or float, rotated by an EXIF tag, or as several pages. Doing
every conversion here, once, keeps encoders simple and makes the rules
(documented on :class:`ImageLoadSettings`) the same for every encoder.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from unibind.errors import InputError
from unibind.limits import check_pixels, open_image
from unibind.modality import Modality
from unibind_plugin_image.settings import ImageLoadSettings

__all__ = ["ImageLoadSettings", "ImageModality", "to_rgb"]

#: Modes holding more than 8 bits per pixel, turned to 8-bit by ``depth_rule``.
_DEEP_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
#: Modes whose pixels carry alpha, straight or premultiplied.
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


class ImageModality(Modality):
    """Reads PNG, JPEG, WebP, BMP and TIFF files into RGB ``PIL.Image`` samples."""

    name = "image"

    def __init__(self, settings: ImageLoadSettings | None = None):
        super().__init__(settings or ImageLoadSettings())

    def read(self, path: Path) -> Image.Image:
        settings: ImageLoadSettings = self.settings  # type: ignore[assignment]
        try:
            image = open_image(path, settings.max_pixels)  # header only; over the pixel budget: refused
        except UnidentifiedImageError:
            raise InputError(path, _why_unreadable(path)) from None
        except OSError as exc:  # a header Pillow recognised, then could not finish reading
            raise InputError(path, f"image header is truncated or corrupt: {exc}") from exc
        with image:
            frames = getattr(image, "n_frames", 1)
            if settings.frame >= frames:
                raise InputError(path, f"frame {settings.frame} asked for, the file has {frames}")
            if settings.frame:
                image.seek(settings.frame)
                check_pixels(path, *image.size, max_pixels=settings.max_pixels)  # pages differ in size
            try:
                image.load()  # decode now: a truncated file fails here, not inside an encoder
            except OSError as exc:
                raise InputError(path, f"image data is truncated or corrupt: {exc}") from exc
            if settings.exif_transpose:
                image = ImageOps.exif_transpose(image) or image
            return to_rgb(image, settings)


def to_rgb(image: Image.Image, settings: ImageLoadSettings | None = None) -> Image.Image:
    """A new 8-bit RGB image from ``image`` in any Pillow mode (see :class:`ImageLoadSettings`)."""
    settings = settings or ImageLoadSettings()
    mode = image.mode
    if mode in _DEEP_MODES:
        return _deep_to_8bit(image, settings.depth_rule).convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        # P and L/RGB with a tRNS chunk become RGBA through their own transparency info
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*settings.background, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # 1, L, P, CMYK, YCbCr, HSV, RGBX: Pillow's own conversion; RGB is copied, never shared
    return image.convert("RGB")


def _deep_to_8bit(image: Image.Image, rule: str) -> Image.Image:
    """Scale a 16/32-bit integer or float greyscale image to mode L by ``rule``."""
    data = np.asarray(image)
    values = np.nan_to_num(data.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if values.size == 0:
        return Image.new("L", image.size)
    low, high = float(values.min()), float(values.max())
    top: float | None = None  # the value that becomes 255
    if rule == "bit_depth" and low >= 0:
        if data.dtype.kind in "iu":
            bits = max(8, int(high).bit_length())
            top = float(2**bits - 1)
        elif high <= 1.0:
            top = 1.0
        elif high <= 255.0:
            top = 255.0
    if top is not None:
        scaled = values * 255.0 / top
    elif high > low:
        scaled = (values - low) * 255.0 / (high - low)
    else:
        scaled = np.zeros_like(values)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


#: Leading bytes of the formats this modality reads, to explain a file Pillow rejects.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"BM", "BMP"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"II+\x00", "BigTIFF"), (b"GIF8", "GIF"),
)


def _why_unreadable(path: Path) -> str:
    """Say why Pillow could not identify ``path``: not an image, zero size, or a damaged header."""
    with open(path, "rb") as fh:
        head = fh.read(32)
    kind = "WebP" if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else next(
        (name for magic, name in _MAGIC if head.startswith(magic)), None)
    if kind is None:
        return "not an image: the content matches no image format Pillow reads"
    size = None
    if kind == "PNG" and len(head) >= 24:
        size = struct.unpack(">II", head[16:24])
    elif kind == "BMP" and len(head) >= 26:
        size = struct.unpack("<ii", head[18:26])
    if size is not None and 0 in size:
        return f"{kind} header declares a zero-size image ({size[0]}x{abs(size[1])})"
    return f"looks like {kind} but Pillow cannot decode it: damaged header or unsupported variant"
