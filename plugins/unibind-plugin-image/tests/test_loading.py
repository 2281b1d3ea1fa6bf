"""The image loader on real formats and the awkward modes real files come in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from unibind_plugin_image.loading import ImageLoadSettings, ImageModality

from unibind.errors import InputError


def load(path: Path, **settings) -> Image.Image:
    return ImageModality(ImageLoadSettings(**settings)).load(path)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(int)


# -- formats ------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix, lossless", [
    (".png", True), (".jpg", False), (".jpeg", False), (".webp", False), (".bmp", True),
    (".tif", True), (".tiff", True),
])
def test_real_photo_in_each_format_loads_as_rgb(china, tmp_path, suffix, lossless):
    path = tmp_path / f"china{suffix}"
    china.save(path)
    image = load(path)
    assert image.mode == "RGB" and image.size == (640, 427)
    diff = np.abs(pixels(image) - pixels(china)).mean()
    assert diff == 0 if lossless else diff < 6, f"{suffix}: mean abs difference {diff}"


def test_the_packaged_jpeg_files_themselves(sklearn_images_dir):
    for name in ("china.jpg", "flower.jpg"):
        image = load(sklearn_images_dir / name)
        assert image.mode == "RGB" and image.size == (640, 427)
        assert pixels(image).std() > 20  # a photo, not a blank


def test_suffixes_are_registered_case_insensitively():
    from unibind.plugins import PluginManager

    registry = PluginManager(strict=True, enabled={"image"}).load().registry
    for suffix in (".PNG", ".jpg", ".JPEG", ".webp", ".bmp", ".tif", ".TIFF"):
        assert registry.modality_for_suffix(suffix).name == "image"
    assert isinstance(registry.get("modality", "image").build(), ImageModality)


# -- modes --------------------------------------------------------------------------------------

def test_greyscale_becomes_three_equal_channels(tmp_path):
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (10, 1))
    Image.fromarray(grey).save(tmp_path / "grey.png")
    out = pixels(load(tmp_path / "grey.png"))
    assert out.shape == (10, 64, 3)
    for channel in range(3):
        assert (out[..., channel] == grey).all()


def test_transparency_is_composited_onto_the_background(tmp_path):
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)
    rgba[..., 0] = 200          # red everywhere
    rgba[:, :2, 3] = 0          # left third fully transparent
    rgba[:, 2:4, 3] = 128       # middle half transparent
    rgba[:, 4:, 3] = 255        # right opaque
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")

    out = pixels(load(tmp_path / "alpha.png"))
    assert (out[:, :2] == 255).all()                         # white background by default
    assert (out[:, 4:] == [200, 0, 0]).all()
    assert np.allclose(out[:, 2:4], [228, 127, 127], atol=2)  # half red, half white

    black = pixels(load(tmp_path / "alpha.png", background="#000000"))
    assert (black[:, :2] == 0).all() and (black[:, 4:] == [200, 0, 0]).all()


def test_greyscale_with_alpha(tmp_path):
    la = np.zeros((3, 3, 2), dtype=np.uint8)
    la[..., 0] = 50
    la[0, :, 1] = 255
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    out = pixels(load(tmp_path / "la.png", background=(0, 0, 255)))
    assert (out[0] == 50).all() and (out[1:] == [0, 0, 255]).all()


def test_palette_with_and_without_a_transparent_index(tmp_path):
    image = Image.new("P", (4, 2))
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putdata([0, 0, 1, 1] * 2)
    image.save(tmp_path / "plain.png")
    image.save(tmp_path / "transparent.png", transparency=1)

    plain = pixels(load(tmp_path / "plain.png"))
    assert (plain[:, :2] == [255, 0, 0]).all() and (plain[:, 2:] == [0, 255, 0]).all()
    seethrough = pixels(load(tmp_path / "transparent.png", background="blue"))
    assert (seethrough[:, :2] == [255, 0, 0]).all() and (seethrough[:, 2:] == [0, 0, 255]).all()


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(tmp_path / "cyan.jpg")
    assert Image.open(tmp_path / "cyan.jpg").mode == "CMYK"
    out = pixels(load(tmp_path / "cyan.jpg"))
    assert np.allclose(out.mean(axis=(0, 1)), [0, 255, 255], atol=8)


def test_16_bit_png_uses_the_full_8_bit_range(tmp_path):
    ramp = np.linspace(0, 65535, 256).astype(np.uint16).reshape(16, 16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode in {"I;16", "I"}
    out = pixels(load(tmp_path / "deep.png"))[..., 0]
    assert out.min() == 0 and out.max() == 255
    assert (np.diff(out.ravel()) >= 0).all()  # order of brightness kept


def test_16_bit_rule_keeps_8_bit_data_and_stretches_12_bit_data(tmp_path):
    eight = np.array([[0, 100, 200]], dtype=np.uint16)
    Image.fromarray(eight).save(tmp_path / "eight.png")
    assert pixels(load(tmp_path / "eight.png"))[0, :, 0].tolist() == [0, 100, 200]
    # min_max stretches the same picture's own range instead
    assert pixels(load(tmp_path / "eight.png", depth_rule="min_max"))[0, :, 0].tolist() == [0, 128, 255]

    twelve = np.array([[0, 2048, 4095]], dtype=np.uint16)
    Image.fromarray(twelve).save(tmp_path / "twelve.png")
    assert pixels(load(tmp_path / "twelve.png"))[0, :, 0].tolist() == [0, 128, 255]


def test_big_endian_16_bit_tiff(tmp_path):
    values = np.array([[0, 32768, 65535]], dtype=">u2")
    Image.frombytes("I;16B", (3, 1), values.tobytes()).save(tmp_path / "be.tif")
    assert pixels(load(tmp_path / "be.tif"))[0, :, 0].tolist() == [0, 128, 255]


def test_32_bit_signed_and_float_images(tmp_path):
    signed = np.array([[-1000, 0, 1000]], dtype=np.int32)
    Image.fromarray(signed).save(tmp_path / "signed.tif")
    assert pixels(load(tmp_path / "signed.tif"))[0, :, 0].tolist() == [0, 128, 255]

    unit = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    Image.fromarray(unit).save(tmp_path / "unit.tif")
    assert Image.open(tmp_path / "unit.tif").mode == "F"
    assert pixels(load(tmp_path / "unit.tif"))[0, :, 0].tolist() == [0, 128, 255]

    wide = np.array([[-3.0, np.nan, 5.0]], dtype=np.float32)
    Image.fromarray(wide).save(tmp_path / "wide.tif")
    assert pixels(load(tmp_path / "wide.tif"))[0, :, 0].tolist() == [0, 96, 255]  # NaN counts as 0


def test_multi_page_tiff_reads_the_first_page_unless_told(tmp_path):
    pages = [Image.new("RGB", (8, 8), colour) for colour in ("red", "lime", "blue")]
    path = tmp_path / "pages.tiff"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert pixels(load(path))[0, 0].tolist() == [255, 0, 0]
    assert pixels(load(path, frame=2))[0, 0].tolist() == [0, 0, 255]
    with pytest.raises(InputError, match="frame 5 asked for, the file has 3") as err:
        load(path, frame=5)
    assert str(path) in str(err.value)


def test_exif_orientation_turns_the_picture_upright(tmp_path):
    image = Image.new("RGB", (40, 20), "white")
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display rotated 90 degrees clockwise
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=95)

    upright = load(tmp_path / "rotated.jpg")
    assert upright.size == (20, 40)
    assert pixels(upright)[2, 10].tolist()[1] < 60   # the red strip is now along the top
    assert load(tmp_path / "rotated.jpg", exif_transpose=False).size == (40, 20)


# -- bad input ----------------------------------------------------------------------------------

def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def test_bad_files_raise_input_errors_that_name_the_file(china, tmp_path):
    china.save(tmp_path / "good.png")
    china.save(tmp_path / "good.jpg")
    png, jpg = (tmp_path / "good.png").read_bytes(), (tmp_path / "good.jpg").read_bytes()
    cases = {
        "text.png": (b"just some text\n" * 10, "not an image"),
        "truncated.png": (png[: len(png) // 2], "truncated or corrupt"),
        "truncated.jpg": (jpg[: len(jpg) // 2], "truncated or corrupt"),
        "zero.png": (_png_header(0, 10), "zero-size image"),
        "damaged.png": (png[:24] + b"\xff\xff" + png[26:], "looks like PNG"),
        "empty.webp": (b"", "empty"),
    }
    for name, (content, problem) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError) as err:
            load(path)
        assert str(path) in str(err.value), name
        assert problem in err.value.problem, f"{name}: {err.value.problem}"

    with pytest.raises(InputError, match="does not exist"):
        load(tmp_path / "missing.png")
    with pytest.raises(InputError, match="more than max_pixels=1000"):
        load(tmp_path / "good.png", max_pixels=1000)


# -- settings -----------------------------------------------------------------------------------

def test_background_accepts_names_and_hex_and_refuses_nonsense():
    assert ImageLoadSettings(background="red").background == (255, 0, 0)
    assert ImageLoadSettings(background="#102030").background == (16, 32, 48)
    assert ImageLoadSettings.model_validate_json('{"background": [1, 2, 3]}').background == (1, 2, 3)
    for bad in ("not-a-colour", (300, 0, 0), (1, 2)):
        with pytest.raises(ValidationError):
            ImageLoadSettings(background=bad)
