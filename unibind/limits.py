"""One pixel budget for every reader that decodes images, checked from the header before decoding.

A 20 KB PNG can declare 13000 x 13000 pixels and cost a gigabyte once
decoded. Every image-backed reader (image, thermal, composites, anything
opening pictures with Pillow) goes through :func:`open_image`, which reads
only the header, refuses a picture over the budget with an
:class:`~unibind.errors.InputError` naming the file, and turns Pillow's own
decompression-bomb error into the same. The budget is
``$UNIBIND_MAX_IMAGE_PIXELS`` (default 64 megapixels: above every camera
photo in common use, a few hundred MB once decoded to RGB), and the
readers' ``max_pixels`` settings default to it.

Importing this module is cheap (no PIL until an image is opened).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from unibind.errors import InputError, SettingsError

ENV_MAX_IMAGE_PIXELS = "UNIBIND_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_PIXELS = 64_000_000


def max_image_pixels() -> int:
    """The pixel budget: ``$UNIBIND_MAX_IMAGE_PIXELS`` or 64 million."""
    raw = os.environ.get(ENV_MAX_IMAGE_PIXELS, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(float(raw)) if "e" in raw.lower() else int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(f"{ENV_MAX_IMAGE_PIXELS}={os.environ[ENV_MAX_IMAGE_PIXELS]!r} is not a positive "
                            "number of pixels")
    return value


def check_pixels(path: str | Path, width: int, height: int, max_pixels: int | None = None) -> None:
    """Refuse a picture with no pixels or more than the budget, naming the file."""
    limit = max_pixels if max_pixels is not None else max_image_pixels()
    if width <= 0 or height <= 0:
        raise InputError(path, f"image has no pixels ({width}x{height})")
    if width * height > limit:
        raise InputError(path, f"image is {width}x{height} = {width * height} pixels, more than "
                               f"max_pixels={limit} (the pixel budget of every image reader, "
                               f"${ENV_MAX_IMAGE_PIXELS}); refusing to decode it")


def open_image(path: str | Path, max_pixels: int | None = None) -> Any:
    """``PIL.Image.open(path)`` with only the header read, refused when over the pixel budget.

    Pillow's ``UnidentifiedImageError`` and ``OSError`` pass through for the
    caller to explain; its ``DecompressionBombError`` becomes an InputError.
    """
    from PIL import Image

    limit = max_pixels if max_pixels is not None else max_image_pixels()
    try:
        with warnings.catch_warnings():  # our budget decides, not Pillow's global one
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise InputError(path, f"refused as a decompression bomb: {exc}") from None
    try:
        check_pixels(path, *image.size, max_pixels=limit)
    except InputError:
        image.close()
        raise
    return image
