"""The thermal loader: a PNG, TIFF or JPEG file in, a :class:`ThermalFrame` out, or an InputError.

The format is told by the first bytes, not the file name. What is read:

- single-channel 8-bit (AGC output of most cameras) and 16-bit (radiometric
  counts, e.g. FLIR TLinear) PNG and TIFF: the integers are kept unchanged;
- float TIFF: a temperature map (°C by default), stored as kelvin;
- 8-bit colour renderings (PNG, TIFF, JPEG, palette images): luminance, or the
  position along a named colour map when ``colormap`` is set.

Refused, with the reason: multi-channel 16-bit or float data (thermal data
has one channel; Pillow would silently drop the low byte of 16-bit colour
PNGs), bi-level images, pictures with no pixels or more than ``max_pixels``
(checked from the header, before decoding), NaN or infinite temperatures,
temperatures below absolute zero, and integers that do not fit 16 bits.
"""

from __future__ import annotations

import contextlib
import logging
import struct
from pathlib import Path

import numpy as np

from unibind.errors import InputError
from unibind.modality import Modality
from unibind_plugin_thermal.colormap import invert_colormap
from unibind_plugin_thermal.frame import ThermalFrame
from unibind_plugin_thermal.settings import ZERO_CELSIUS, ThermalLoadSettings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
JPEG_MAGIC = b"\xff\xd8\xff"
#: PNG colour types (IHDR byte 25) and what they hold.
PNG_COLOUR_TYPES = {0: "grey", 2: "RGB", 3: "palette", 4: "grey+alpha", 6: "RGBA"}
#: Pillow modes of single-channel images with 16 bits per pixel.
PIL_16BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
UINT16_MAX = 65535
PALETTE_PHOTOMETRIC = 3  # TIFF tag 262 value for colour-mapped (palette) images


class ThermalModality(Modality):
    """Reads thermal images; every problem becomes an InputError naming the file."""

    name = "thermal"

    def __init__(self, settings: ThermalLoadSettings | None = None):
        super().__init__(settings or ThermalLoadSettings())
        self.settings: ThermalLoadSettings

    def read(self, path: Path) -> ThermalFrame:
        with path.open("rb") as fh:
            head = fh.read(33)
        if head.startswith(PNG_MAGIC):
            _check_png_header(path, head)
            return self._read_with_pillow(path, "PNG")
        if head[:4] in TIFF_MAGICS:
            return self._read_tiff(path)
        if head.startswith(JPEG_MAGIC):
            return self._read_with_pillow(path, "JPEG")
        raise InputError(path, "not a thermal image: neither PNG, TIFF nor JPEG (by content, not by name)")

    # -- formats ------------------------------------------------------------------------------
    def _read_tiff(self, path: Path) -> ThermalFrame:
        """tifffile reads the header (shape, dtype, samples) and the pixels; Pillow decodes what it cannot.

        Without the optional ``imagecodecs`` package tifffile decodes only
        uncompressed, deflate and LZMA TIFFs; LZW and PackBits (Pillow's and
        many cameras' choice) then go through Pillow's libtiff, with the same checks.
        """
        import tifffile

        with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
            pages = len(tif.pages)
            if self.settings.frame >= pages:
                raise InputError(path, f"asked for page {self.settings.frame}, the TIFF has {pages}")
            page = tif.pages[self.settings.frame]
            height, width = int(page.imagelength), int(page.imagewidth)
            samples, dtype = int(page.samplesperpixel), np.dtype(page.dtype) if page.dtype else None
            label = f"TIFF {dtype}" + (f" x{samples}" if samples > 1 else "")
            self._check_size(path, height, width)
            if getattr(page, "imagedepth", 1) > 1:
                raise InputError(path, f"a volume TIFF (depth {page.imagedepth}); thermal images are 2-D")
            if samples > 1 and not (dtype == np.uint8 and samples in (2, 3, 4)):
                raise InputError(path, _multichannel_problem(samples, dtype))
            if int(page.photometric) == PALETTE_PHOTOMETRIC:
                data = None  # colour indices: Pillow applies the palette
            else:
                data = self._decode_page(page)
        if data is None:
            return self._read_with_pillow(path, "TIFF", expect=(height, width))
        if samples > 1:
            if data.ndim == 3 and data.shape[0] == samples and data.shape[-1] != samples:
                data = np.moveaxis(data, 0, -1)  # planar (separate) configuration
            if data.ndim != 3:
                raise InputError(path, f"expected one [H, W, {samples}] colour image, got shape {data.shape}")
            if samples == 2:  # 8-bit grey with alpha: the grey is the data
                return self._from_array(path, np.ascontiguousarray(data[..., 0]), label)
            return self._from_rgb(path, np.ascontiguousarray(data[..., :3]), label)
        if data.ndim > 2:
            data = data.reshape(height, width) if data.size == height * width else data
        if data.ndim != 2:
            raise InputError(path, f"expected a 2-D single-channel image, the TIFF page has shape {data.shape}")
        return self._from_array(path, data, label)

    @staticmethod
    def _decode_page(page) -> np.ndarray | None:
        """The page's pixels, or ``None`` when tifffile lacks the codec (Pillow then decodes the file)."""
        try:
            return page.asarray()
        except ValueError as exc:
            if "imagecodecs" not in str(exc):
                raise
            return None

    def _read_with_pillow(self, path: Path, fmt: str, expect: tuple[int, int] | None = None) -> ThermalFrame:
        from unibind.limits import open_image

        with open_image(path, self.settings.max_pixels) as image:
            if fmt == "TIFF" and self.settings.frame:
                image.seek(self.settings.frame)
            width, height = image.size
            self._check_size(path, height, width)
            if expect is not None and (height, width) != expect:
                raise InputError(path, f"decoders disagree on the size: {width}x{height} vs "
                                       f"{expect[1]}x{expect[0]}")
            mode = image.mode
            label = f"{fmt} {mode}"
            if mode == "1":
                raise InputError(path, "a bi-level (1-bit) image holds no thermal data")
            if mode in PIL_16BIT_MODES or mode in ("I", "F", "L"):
                return self._from_array(path, np.asarray(image), label)
            if mode in ("LA", "La"):
                return self._from_array(path, np.asarray(image.getchannel(0)), label)
            if mode.startswith(("I;", "F;")):
                raise InputError(path, f"unsupported pixel format {mode}")
            rgb = np.asarray(image.convert("RGB"))  # RGB(A), palette, CMYK, YCbCr renderings
        return self._from_rgb(path, rgb, label)

    # -- pixels to a frame -------------------------------------------------------------------
    def _from_array(self, path: Path, data: np.ndarray, label: str) -> ThermalFrame:
        """A single-channel array: integers are counts, floats are temperatures."""
        if data.size == 0:
            raise InputError(path, f"image has no pixels (shape {data.shape})")
        kind = data.dtype.kind
        if kind == "b":
            raise InputError(path, "a bi-level (1-bit) image holds no thermal data")
        if data.dtype == np.uint8:
            return ThermalFrame(np.ascontiguousarray(data), "counts", 8, source=f"{label}, 8-bit counts")
        if kind in "iu":
            return self._counts16(path, data, label)
        if kind == "f":
            return self._temperatures(path, data, label)
        raise InputError(path, f"unsupported pixel type {data.dtype}: expected 8/16-bit integers or float "
                               "temperatures")

    def _counts16(self, path: Path, data: np.ndarray, label: str) -> ThermalFrame:
        low, high = int(data.min()), int(data.max())
        if low < 0 or high > UINT16_MAX:
            raise InputError(path, f"{data.dtype} values {low}..{high} do not fit 16-bit unsigned counts")
        counts = np.ascontiguousarray(data, dtype=np.uint16)
        s = self.settings
        calibration = (s.kelvin_scale, s.kelvin_offset)
        if s.radiometric == "kelvin":
            kelvin = counts.astype(np.float32) * np.float32(s.kelvin_scale) + np.float32(s.kelvin_offset)
            median = float(np.median(kelvin))  # not the minimum: dead pixels read 0 counts
            if median <= 0:
                raise InputError(path, f"median temperature {median:.2f} K is below absolute zero: check "
                                       "kelvin_scale and kelvin_offset")
            return ThermalFrame(kelvin.astype(np.float32), "kelvin", 16, calibration,
                                source=f"{label}, 16-bit counts * {s.kelvin_scale:g} + {s.kelvin_offset:g} K")
        return ThermalFrame(counts, "counts", 16, calibration, source=f"{label}, 16-bit counts")

    def _temperatures(self, path: Path, data: np.ndarray, label: str) -> ThermalFrame:
        values = data.astype(np.float64)
        bad = int((~np.isfinite(values)).sum())
        if bad:
            what = "every pixel is" if bad == values.size else f"{bad} of {values.size} pixels are"
            raise InputError(path, f"{what} NaN or infinite: not a usable temperature map")
        kelvin = values + ZERO_CELSIUS if self.settings.float_unit == "celsius" else values
        self._check_kelvin(path, kelvin)
        return ThermalFrame(kelvin.astype(np.float32), "kelvin", 32,
                            source=f"{label}, temperatures in {self.settings.float_unit}")

    def _check_kelvin(self, path: Path, kelvin: np.ndarray) -> None:
        low = float(kelvin.min())
        if low <= 0:
            raise InputError(path, f"temperatures reach {low:.2f} K, below absolute zero: check float_unit")

    def _from_rgb(self, path: Path, rgb: np.ndarray, label: str) -> ThermalFrame:
        """An 8-bit colour rendering: colour-map positions when a map is named, else luminance."""
        if rgb.size == 0:
            raise InputError(path, f"image has no pixels (shape {rgb.shape})")
        name = self.settings.colormap
        if name is None:
            from PIL import Image

            grey = np.asarray(Image.fromarray(rgb, "RGB").convert("L"))  # ITU-R 601-2, as ImageBind
            return ThermalFrame(grey, "counts", 8, source=f"{label} rendering, luminance")
        try:
            intensity, error = invert_colormap(rgb, name)
        except ValueError as exc:  # an unknown colour map is a settings problem, named as such
            raise InputError(path, str(exc)) from exc
        if error > self.settings.max_colour_error:
            raise InputError(path, f"colours are not from the {name!r} colour map (mean distance {error:.3f} "
                                   f"> max_colour_error {self.settings.max_colour_error:g})")
        return ThermalFrame(intensity, "intensity", 8, source=f"{label} rendering, {name} inverted")

    def _check_size(self, path: Path, height: int, width: int) -> None:
        from unibind.limits import check_pixels

        check_pixels(path, width, height, self.settings.max_pixels)


@contextlib.contextmanager
def _quiet_tifffile():
    """tifffile logs each damaged tag to stderr; what matters reaches the user as one InputError."""
    logger = logging.getLogger("tifffile")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _multichannel_problem(samples: int, dtype: np.dtype | None) -> str:
    bits = f"{dtype.itemsize * 8}-bit {'float' if dtype.kind == 'f' else 'integer'}" if dtype else "unknown"
    return (f"{samples} channels of {bits} data: thermal data has one channel, and only 8-bit RGB(A) "
            "renderings are read as colour; save radiometric data as single-channel 16-bit or float")


def _check_png_header(path: Path, head: bytes) -> None:
    """Refuse from the IHDR what Pillow would misread: 16-bit colour (it drops the low byte), < 8-bit grey."""
    if len(head) < 33 or head[12:16] != b"IHDR":
        raise InputError(path, "PNG without a valid IHDR header")
    width, height = struct.unpack(">II", head[16:24])
    depth, colour = head[24], head[25]
    if width == 0 or height == 0:
        raise InputError(path, f"PNG header declares a zero-size image ({width}x{height})")
    kind = PNG_COLOUR_TYPES.get(colour)
    if kind is None:
        raise InputError(path, f"PNG header has an invalid colour type {colour}")
    if depth == 16 and colour != 0:
        channels = {2: 3, 4: 2, 6: 4}[colour]
        raise InputError(path, f"16-bit {kind} PNG: {_multichannel_problem(channels, np.dtype(np.uint16))}")
    if colour == 0 and depth < 8:
        raise InputError(path, f"{depth}-bit grey PNG: too few levels to be thermal data")
