"""One pixel budget for every image-backed reader, checked from the header before decoding.

On the old code a 13000 x 13000 1-bit PNG (about 20 KB) was accepted by the
image reader and cost about 0.9 GB once decoded; thermal had its own budget.
"""

from __future__ import annotations

import tracemalloc
import zlib
from pathlib import Path

import pytest

from unibind.errors import InputError, SettingsError
from unibind.limits import DEFAULT_MAX_IMAGE_PIXELS, ENV_MAX_IMAGE_PIXELS, max_image_pixels


def _bilevel_png(path: Path, width: int, height: int, depth: int = 1) -> Path:
    """A valid ``depth``-bit grey PNG of all-zero pixels: tiny on disk, huge once decoded."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + -(-width * depth // 8))
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bilevel_png(tmp_path_factory.mktemp("bomb") / "bomb.png", 13_000, 13_000)


@pytest.fixture(scope="module")
def grey_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Thermal refuses 1-bit pictures outright; its bomb is 8-bit grey (still under 200 KB)."""
    return _bilevel_png(tmp_path_factory.mktemp("bomb") / "bomb.png", 13_000, 13_000, depth=8)


def _load(modality: str, path: Path):
    from unibind.plugins import get_registry

    return get_registry().get("modality", modality).build().load(path)


@pytest.mark.parametrize("modality", ["image", "thermal"])
def test_a_13000_square_png_is_refused_from_its_header(bomb: Path, grey_bomb: Path, modality: str) -> None:
    bomb = bomb if modality == "image" else grey_bomb
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            _load(modality, bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "bomb.png" in str(caught.value) and "13000x13000" in str(caught.value)
    assert "more than max_pixels=64000000" in str(caught.value)
    assert peak < 50e6  # refused before decoding (decoded as RGB it is 507 MB)


def test_composites_share_the_budget(bomb: Path) -> None:
    from unibind.composites import load_cutout

    with pytest.raises(InputError, match="bomb.png.*more than max_pixels"):
        load_cutout(bomb)


def test_the_budget_is_one_setting_for_every_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = _bilevel_png(tmp_path / "small.png", 300, 200, depth=8)
    assert _load("image", small).size == (300, 200)
    monkeypatch.setenv(ENV_MAX_IMAGE_PIXELS, "50000")
    assert max_image_pixels() == 50_000
    for modality in ("image", "thermal"):
        with pytest.raises(InputError, match="small.png: image is 300x200 = 60000 pixels, more than max_pixels=50000"):
            _load(modality, small)
    from unibind_plugin_image.settings import ImageLoadSettings
    from unibind_plugin_thermal.settings import ThermalLoadSettings

    assert ImageLoadSettings().max_pixels == ThermalLoadSettings().max_pixels == 50_000
    assert ImageLoadSettings(max_pixels=70_000).max_pixels == 70_000  # a reader's own setting still wins


def test_a_bad_budget_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MAX_IMAGE_PIXELS, raising=False)
    assert max_image_pixels() == DEFAULT_MAX_IMAGE_PIXELS
    monkeypatch.setenv(ENV_MAX_IMAGE_PIXELS, "-3")
    with pytest.raises(SettingsError, match=ENV_MAX_IMAGE_PIXELS):
        max_image_pixels()


def test_pillow_decompression_bomb_errors_become_input_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow raises its own DecompressionBombError past 2 x its global limit: still an InputError."""
    from PIL import Image

    path = _bilevel_png(tmp_path / "pillow-bomb.png", 400, 400)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    monkeypatch.setenv(ENV_MAX_IMAGE_PIXELS, str(10**9))
    with pytest.raises(InputError, match="pillow-bomb.png: refused as a decompression bomb"):
        _load("image", path)
