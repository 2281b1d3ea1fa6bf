"""Files: atomic writes get ordinary permissions; a space directory loads only files inside itself."""

from __future__ import annotations

import json
import os
import stat

import pytest

from unibind.atomic import atomic_open, save_tensors
from unibind.errors import InputError
from unibind.space import Space


@pytest.fixture
def umask():
    """``umask(value)`` for the test; the old one comes back after it."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mask, mode) -> None:
    """mkstemp makes 0600 files; a report or a space written for others to read was unreadable to them."""
    umask(mask)
    with atomic_open(tmp_path / "report.json") as fh:
        fh.write("{}")
    import torch

    save_tensors({"x": torch.zeros(2)}, tmp_path / "x.safetensors")
    for name in ("report.json", "x.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "x.safetensors"]  # no temp left


def _space(tmp_path, *, adapter_file=None, centres=None):
    space = tmp_path / "space"
    (space / "adapters").mkdir(parents=True, exist_ok=True)
    record = {"format": "unibind-space", "version": 1, "text_encoder": "hashing", "text_identity": "x",
              "centres": centres,
              "modalities": {"text": {"encoder": "hashing", "adapter": "linear", "adapter_file": adapter_file,
                                      "in_dim": 64, "out_dim": 64}}}
    (space / "space.json").write_text(json.dumps(record))
    return space


@pytest.mark.parametrize("where", ["../outside.safetensors", "ABSOLUTE", "adapters/link.safetensors"])
def test_adapter_paths_in_space_json_stay_inside_the_space(fake_text_registry, tmp_path, where) -> None:
    """An adapter path pointing at another valid file outside the space loaded silently."""
    registry = fake_text_registry()
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(b"a valid file somewhere else")
    if where == "ABSOLUTE":
        where = str(outside)
    space = _space(tmp_path, adapter_file=where)
    if where.endswith("link.safetensors"):
        (space / where).symlink_to(outside)
    with pytest.raises(InputError, match="outside the space directory") as caught:
        Space.from_dir(space, registry=registry)
    assert caught.value.source == str(space / "space.json")


def test_centres_path_in_space_json_stays_inside_the_space(fake_text_registry, tmp_path) -> None:
    registry = fake_text_registry()
    (tmp_path / "centres.safetensors").write_bytes(b"x")
    space = _space(tmp_path, centres="../centres.safetensors")
    with pytest.raises(InputError, match="centres file '../centres.safetensors' is outside"):
        Space.from_dir(space, registry=registry)


def test_paths_inside_the_space_still_load(fake_text_registry, tmp_path) -> None:
    registry = fake_text_registry()
    space = _space(tmp_path, adapter_file="adapters/text.safetensors")
    (space / "adapters" / "text.safetensors").write_bytes(b"x")
    loaded = Space.from_dir(space, registry=registry)
    assert loaded.trained_adapters["text"].path == space / "adapters" / "text.safetensors"


def test_secrets_are_masked_in_log_records(caplog) -> None:
    import logging

    from unibind.secrets import install_log_redaction, redact, register_secret

    register_secret("sk-log-canary-0451")
    install_log_redaction()
    install_log_redaction()  # once is enough; a second call must not wrap twice
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info("POST %s -> %s", "https://u:pw@h/v1", "echo sk-log-canary-0451")
    assert caplog.messages == ["POST https://***@h/v1 -> echo ***"]
    assert redact("Authorization: Bearer abc.def-1") == "Authorization: Bearer ***"
