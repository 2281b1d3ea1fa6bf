"""Which files a trained space has already seen, so held-out measurements stay held out.

A temperature fitted on the files a space was trained on is too low (the space is more sure of
them than of new files), and an accuracy or ECE measured on them is optimistic: both are silent
wrong answers. ``unibind train`` records the content key (SHA-256 of the bytes, as the feature
cache keys files) of every file it trained or validated with, per modality, in
``<space>/trained_on.safetensors``: the first 16 bytes of each digest, 16 MB per million files.
Commands that need held-out files ask :func:`seen_by_space` which of theirs it has seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

TRAINED_ON = "trained_on.safetensors"
_BYTES = 16


def _digest(key: str) -> bytes:
    """The stored prefix of a content key ("file:<sha256 hex>")."""
    return bytes.fromhex(key.removeprefix("file:").removeprefix("array:")[:2 * _BYTES])


def save_trained_on(space_dir: str | Path, keys: dict[str, Sequence[str]]) -> Path:
    """Record, per modality, the content keys of the files a space was trained (or validated) on."""
    from unibind.atomic import save_tensors

    tensors = {m: torch.from_numpy(np.frombuffer(b"".join(_digest(k) for k in ks), dtype=np.uint8)
                                   .reshape(len(ks), _BYTES).copy()) for m, ks in keys.items() if ks}
    return save_tensors(tensors, Path(space_dir) / TRAINED_ON, metadata={"digest": f"sha256[:{_BYTES}]"})


def trained_on(space_dir: str | Path, modality: str) -> set[bytes] | None:
    """The stored digests of ``modality``'s training files; None when the space records none (not trained
    here, or trained before this was recorded)."""
    from safetensors import safe_open

    path = Path(space_dir) / TRAINED_ON
    if not path.is_file():
        return None
    with safe_open(str(path), framework="pt") as fh:
        if modality not in fh.keys():
            return set()
        rows = fh.get_tensor(modality).numpy()
    return {row.tobytes() for row in rows}


def seen_by_space(space_dir: str | Path | None, modality: str, paths: Iterable[str | Path]) -> list[str] | None:
    """Those of ``paths`` whose content the space at ``space_dir`` was trained on (None: it does not say)."""
    from unibind.features.keys import file_hash

    if space_dir is None:
        return None
    known = trained_on(space_dir, modality)
    if known is None:
        return None
    if not known:                # nothing of this modality was trained on: no file needs hashing
        return []
    return [str(p) for p in paths if bytes.fromhex(file_hash(p)[:2 * _BYTES]) in known]
