"""The thermal loader: 8/16-bit and float data kept exactly, colour renderings, clear refusals.

Every frame here is simulated (no real thermal data ships in any package).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from unibind.errors import InputError, SettingsError
from unibind.plugins import get_registry
from unibind_plugin_thermal.loading import ThermalModality
from unibind_plugin_thermal.settings import ThermalLoadSettings
from unibind_plugin_thermal.simulated import write_png16, write_tiff


def _png_raw(path: Path, array: np.ndarray, colour_type: int) -> Path:
    """Write a PNG by hand (Pillow cannot write 16-bit colour PNGs): big-endian samples, filter 0."""
    height, width = array.shape[:2]
    depth = array.dtype.itemsize * 8
    rows = array.astype(array.dtype.newbyteorder(">")).reshape(height, -1).tobytes()
    stride = len(rows) // height
    raw = b"".join(b"\x00" + rows[i * stride:(i + 1) * stride] for i in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


# -- 16-bit radiometric data keeps every count ----------------------------------------------------

def test_16bit_png_and_tiff_round_trip_every_count(tmp_path: Path, person_counts) -> None:
    loader = ThermalModality()
    files = {
        "png": write_png16(tmp_path / "a.thermal.png", person_counts),
        "tiff": write_tiff(tmp_path / "a.thermal.tiff", person_counts),
        "tiff-deflate": write_tiff(tmp_path / "b.thermal.tiff", person_counts, compression="zlib"),
        "tiff-pillow-lzw": tmp_path / "c.thermal.tiff",  # LZW: decoded by Pillow when imagecodecs is absent
    }
    Image.fromarray(person_counts).save(files["tiff-pillow-lzw"], compression="tiff_lzw")
    for name, path in files.items():
        frame = loader.load(path)
        assert frame.kind == "counts" and frame.bit_depth == 16, name
        assert frame.values.dtype == np.uint16, name
        np.testing.assert_array_equal(frame.values, person_counts, err_msg=name)
    levels = len(np.unique(frame.values))
    print(f"\nsimulated 16-bit frame: {levels} distinct counts, {frame.values.min()}..{frame.values.max()}")
    assert levels > 256  # more than 8 bits of information survive the trip


def test_counts_become_kelvin_only_when_asked(tmp_path: Path, person_counts) -> None:
    path = write_png16(tmp_path / "p.thermal.png", person_counts)
    raw = ThermalModality().load(path)
    assert raw.kind == "counts" and raw.calibration == (0.01, 0.0)
    kelvin = ThermalModality(ThermalLoadSettings(radiometric="kelvin")).load(path)
    assert kelvin.kind == "kelvin" and kelvin.values.dtype == np.float32
    np.testing.assert_allclose(kelvin.values, person_counts * 0.01, rtol=1e-6)
    np.testing.assert_allclose(raw.kelvin(), kelvin.values, rtol=1e-6)
    # the simulated scene: ~290 K ambient, the hottest 1% of a person is skin at ~306-310 K
    median, hot = np.percentile(kelvin.values, [50, 99.5])
    assert 275 < median < 300 and 303 < hot < 312
    low_res = ThermalModality(ThermalLoadSettings(radiometric="kelvin", kelvin_scale=0.1, kelvin_offset=-100)).load(path)
    np.testing.assert_allclose(low_res.values, person_counts * 0.1 - 100, rtol=1e-5)


def test_float_tiff_is_a_temperature_map(tmp_path: Path) -> None:
    celsius = np.array([[20.0, 36.5], [-5.0, 80.25]], dtype=np.float32)
    path = write_tiff(tmp_path / "c.thermal.tiff", celsius)
    frame = ThermalModality().load(path)
    assert frame.kind == "kelvin"
    np.testing.assert_allclose(frame.values, celsius + 273.15, rtol=1e-6)
    as_kelvin = ThermalModality(ThermalLoadSettings(float_unit="kelvin")).load(
        write_tiff(tmp_path / "k.thermal.tiff", celsius + np.float32(273.15)))
    np.testing.assert_allclose(as_kelvin.values, frame.values, rtol=1e-6)


def test_8bit_grey_is_kept_as_counts(tmp_path: Path) -> None:
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for path in (tmp_path / "g.thermal.png", tmp_path / "g.thermal.tiff"):
        Image.fromarray(grey).save(path)
        frame = ThermalModality().load(path)
        assert (frame.kind, frame.bit_depth, frame.calibration) == ("counts", 8, None)
        np.testing.assert_array_equal(frame.values, grey)


def test_multipage_tiff_reads_the_chosen_page(tmp_path: Path) -> None:
    pages = np.stack([np.full((4, 5), 1000 * (i + 1), np.uint16) for i in range(3)])
    path = tmp_path / "stack.thermal.tiff"
    with tifffile.TiffWriter(path) as tif:
        for page in pages:
            tif.write(page)
    assert ThermalModality(ThermalLoadSettings(frame=2)).load(path).values.max() == 3000
    with pytest.raises(InputError, match="asked for page 5, the TIFF has 3"):
        ThermalModality(ThermalLoadSettings(frame=5)).load(path)


def test_rgb_rendering_without_colormap_is_luminance(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    path = tmp_path / "r.thermal.png"
    Image.fromarray(rgb).save(path)
    frame = ThermalModality().load(path)
    assert frame.kind == "counts" and frame.bit_depth == 8 and "luminance" in frame.source
    np.testing.assert_array_equal(frame.values, np.asarray(Image.fromarray(rgb).convert("L")))


def test_8bit_colour_tiffs_rgb_palette_and_grey_alpha(tmp_path: Path) -> None:
    from unibind_plugin_thermal.colormap import apply_colormap

    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (8, 1))
    rgb = apply_colormap(ramp, "inferno")
    inverted = ThermalModality(ThermalLoadSettings(colormap="inferno"))
    np.testing.assert_allclose(inverted.load(write_tiff(tmp_path / "rgb.thermal.tiff", rgb)).values, ramp,
                               atol=0.5 / 255 + 1e-6)
    palette = Image.fromarray(rgb).quantize(colors=64, method=Image.Quantize.MAXCOVERAGE)
    palette.save(tmp_path / "palette.thermal.tiff")
    frame = inverted.load(tmp_path / "palette.thermal.tiff")  # palette indices become colours, then positions
    assert frame.kind == "intensity" and np.abs(frame.values - ramp).mean() < 0.02
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    tifffile.imwrite(tmp_path / "la.thermal.tiff", np.stack([grey, np.full_like(grey, 255)], -1),
                     photometric="minisblack", extrasamples=["unassalpha"])
    np.testing.assert_array_equal(ThermalModality().load(tmp_path / "la.thermal.tiff").values, grey)


# -- refusals --------------------------------------------------------------------------------

def _refused(path: Path, problem: str, settings: ThermalLoadSettings | None = None) -> None:
    with pytest.raises(InputError, match=problem) as caught:
        ThermalModality(settings).load(path)
    assert caught.value.source == str(path)
    print(f"\n{path.name}: {caught.value.problem}")


def test_multichannel_16bit_is_refused(tmp_path: Path) -> None:
    rgb16 = (np.random.default_rng(0).random((6, 7, 3)) * 60000).astype(np.uint16)
    _refused(write_tiff(tmp_path / "rgb16.thermal.tiff", rgb16), "3 channels of 16-bit integer data")
    _refused(_png_raw(tmp_path / "rgb16.thermal.png", rgb16, colour_type=2), "16-bit RGB PNG")
    _refused(_png_raw(tmp_path / "la16.thermal.png", rgb16[..., :2], colour_type=4), "16-bit grey\\+alpha PNG")
    _refused(write_tiff(tmp_path / "rgbf.thermal.tiff", rgb16.astype(np.float32)), "3 channels of 32-bit float")


def test_nan_and_impossible_temperatures_are_refused(tmp_path: Path) -> None:
    nan = np.full((8, 8), np.nan, np.float32)
    _refused(write_tiff(tmp_path / "nan.thermal.tiff", nan), "every pixel is NaN or infinite")
    some = np.full((8, 8), 21.0, np.float32)
    some[2, 3], some[4, 4] = np.nan, np.inf
    _refused(write_tiff(tmp_path / "some-nan.thermal.tiff", some), "2 of 64 pixels are NaN or infinite")
    _refused(write_tiff(tmp_path / "cold.thermal.tiff", np.full((4, 4), -300.0, np.float32)),
             "below absolute zero")


@pytest.mark.filterwarnings("ignore:.*writing zero-size array")
def test_other_unusable_images_are_refused(tmp_path: Path) -> None:
    Image.new("1", (8, 8)).save(tmp_path / "bilevel.thermal.png")
    _refused(tmp_path / "bilevel.thermal.png", "1-bit grey PNG")
    Image.new("1", (8, 8)).save(tmp_path / "bilevel.thermal.tiff")
    _refused(tmp_path / "bilevel.thermal.tiff", "bi-level")
    _refused(write_tiff(tmp_path / "empty.thermal.tiff", np.zeros((0, 5), np.uint16)), "no pixels")
    _refused(write_tiff(tmp_path / "wide.thermal.tiff", np.full((4, 4), 70000, np.uint32)),
             "uint32 values 70000..70000 do not fit 16-bit")
    _refused(write_tiff(tmp_path / "negative.thermal.tiff", np.full((4, 4), -3, np.int16)), "do not fit 16-bit")
    _refused(write_tiff(tmp_path / "complex.thermal.tiff", np.ones((4, 4), np.complex64)), "unsupported pixel type")
    two = tmp_path / "grey-alpha16.thermal.tiff"
    tifffile.imwrite(two, np.ones((4, 5, 2), np.uint16), photometric="minisblack", planarconfig="contig")
    _refused(two, "2 channels of 16-bit integer data")
    np.save(tmp_path / "array.thermal.png", np.ones((4, 4)))  # an .npy wearing a PNG name
    (tmp_path / "array.thermal.png").write_bytes((tmp_path / "array.thermal.png.npy").read_bytes())
    _refused(tmp_path / "array.thermal.png", "neither PNG, TIFF nor JPEG")


def test_oversized_images_are_refused_before_decoding(tmp_path: Path, person_counts) -> None:
    path = write_png16(tmp_path / "big.thermal.png", person_counts)
    _refused(path, "160x120 = 19200 pixels, more than max_pixels=1000", ThermalLoadSettings(max_pixels=1000))
    path = write_tiff(tmp_path / "big.thermal.tiff", person_counts)
    _refused(path, "more than max_pixels", ThermalLoadSettings(max_pixels=1000))


def test_settings_are_validated_through_the_spec() -> None:
    spec = get_registry().get("modality", "thermal")
    with pytest.raises(SettingsError, match="kelvin_scale"):
        spec.build({"kelvin_scale": 0})
    with pytest.raises(SettingsError, match="radiometric"):
        spec.build({"radiometric": "celsius"})
