"""The individual checks of the contract kit, usable without the test class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from unibind.errors import InputError
from unibind.specs import Spec

#: Modules that registering a plugin must not import.
HEAVY_MODULES = ("torch", "torchvision", "torchaudio", "transformers", "timm", "numpy", "PIL")

_PROBE = """
import json, sys
from unibind.plugins import PluginManager
pm = PluginManager(strict=True, enabled={names!r}).load()
specs = [s.qualified_name for s in pm.registry]
print(json.dumps({{"heavy": [m for m in {heavy!r} if m in sys.modules], "specs": specs}}))
"""


def heavy_modules_after_registration(plugin: str, heavy: tuple[str, ...] = HEAVY_MODULES) -> list[str]:
    """Load only ``plugin`` (by entry-point name) in a fresh interpreter; list heavy imports."""
    code = _PROBE.format(names={plugin}, heavy=heavy)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"loading plugin {plugin!r} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])["heavy"]


def check_settings_roundtrip(spec: Spec) -> None:
    """Default settings survive a trip through JSON unchanged."""
    model = spec.settings_model()
    if model is None:
        return
    try:
        original = model()
    except Exception:  # noqa: BLE001 - settings with required fields: use their JSON schema only
        schema = model.model_json_schema()
        assert schema.get("properties"), f"{spec.qualified_name}: settings model has no fields"
        return
    again = model.model_validate_json(original.model_dump_json())
    assert again == original, f"{spec.qualified_name}: settings changed on a JSON round trip"
    assert model.model_validate(json.loads(original.model_dump_json())) == original


def check_encoder_output(encoder: Any, samples: list[Any], dim: int | None = None) -> None:
    """The encoder returns a finite float tensor ``[N, dim]`` for a batch of samples."""
    import torch

    out = encoder.encode(samples)
    assert isinstance(out, torch.Tensor), f"encode() returned {type(out).__name__}, not a tensor"
    assert out.dtype.is_floating_point, f"encode() returned dtype {out.dtype}"
    assert out.ndim == 2 and out.shape[0] == len(samples), f"shape {tuple(out.shape)} for {len(samples)}"
    want = dim or getattr(encoder, "dim", None)
    assert want and out.shape[1] == want, f"dim {out.shape[1]} != declared {want}"
    assert torch.isfinite(out).all(), "encode() returned NaN or inf"


def check_batch_matches_singles(encoder: Any, samples: list[Any], atol: float = 1e-4) -> None:
    """Each row of a batch is the embedding of its own sample: no mix-ups, no leaks between rows.

    Needs distinct samples (with copies of one sample a shuffled batch looks right).
    """
    import torch

    batch = encoder.encode(samples)
    for i, sample in enumerate(samples):
        alone = encoder.encode([sample])[0]
        assert torch.allclose(batch[i], alone, atol=atol, rtol=1e-3), \
            f"row {i} of a batch differs from sample {i} encoded alone (max diff {float((batch[i] - alone).abs().max()):.3g})"


#: The broken copies ``bad_file_variants`` writes, and what each stands for.
BAD_FILE_KINDS = {
    "empty": "zero bytes (a file created but never written)",
    "truncated": "the first third of the bytes (a download or copy cut short)",
    "wrong_format": "four lines of plain English text under the format's suffix (a mislabelled file)",
    "corrupted": "the first 64 bytes XOR-ed with 0x5A, the rest intact (a damaged header)",
}


def bad_file_variants(good: Path, out_dir: Path, skip: tuple[str, ...] = ()) -> dict[str, Path]:
    """Broken copies of a valid file, one per kind in ``BAD_FILE_KINDS`` not in ``skip``.

    Each copy keeps the whole suffix of ``good`` (``walk.imu.csv`` gives
    ``truncated.imu.csv``), so it reaches the same loader by name. A text format
    whose valid files stay valid when cut on a line boundary skips ``"truncated"``.
    """
    unknown = set(skip) - set(BAD_FILE_KINDS)
    if unknown:
        raise ValueError(f"unknown bad-file kinds {sorted(unknown)}; kinds: {', '.join(BAD_FILE_KINDS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    data = good.read_bytes()
    suffix = "".join(good.suffixes)
    variants = {
        "empty": b"",
        "truncated": data[: max(1, len(data) // 3)],
        "wrong_format": b"this is plain text, not the format the suffix promises\n" * 4,
        "corrupted": bytes((b ^ 0x5A) for b in data[:64]) + data[64:],
    }
    paths = {}
    for kind, content in variants.items():
        if kind in skip:
            continue
        path = out_dir / f"{kind}{suffix}"
        path.write_bytes(content)
        paths[kind] = path
    return paths


def check_loader_rejects(modality: Any, bad_files: dict[str, Path]) -> None:
    """Every bad file raises the project's InputError, and the message names the file."""
    for kind, path in bad_files.items():
        try:
            modality.load(path)
        except InputError as exc:
            assert str(path) in str(exc), f"{kind}: error does not name the file: {exc}"
        else:
            raise AssertionError(f"{kind} file {path} was accepted by {type(modality).__name__}")
