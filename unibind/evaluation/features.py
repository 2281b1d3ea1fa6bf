"""Frozen-encoder features of an evaluation set, cached on disk so a table reruns in seconds.

Features are cached *before* the adapter, keyed by the encoder's identity
(name, class, settings, digest of its weights) and a fingerprint of the
data, so the default ImageNet bridge and any trained adapter on the same
encoder share one cache. The set is encoded in parts of ``part_size`` rows,
each written atomically as its own safetensors file: a killed run resumes at
the first missing part, and no row is ever stored twice. Items that fail to
load are skipped, recorded in their part, and reported.

(A simple local cache; the training package's feature cache may replace it.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from unibind.errors import InputError
from unibind.identity import identity_hash, module_digest, portable
from unibind.progress import track
from unibind.results import Failure

DEFAULT_PART_SIZE = 256


@dataclass
class Features:
    """Rows of the items that worked (``index`` into the input), and the failures."""

    vectors: torch.Tensor
    index: list[int]
    failures: list[Failure] = field(default_factory=list)


def encoder_identity(space: Any, modality: str) -> dict[str, Any]:
    """What a modality's encoder features depend on (builds the pipeline)."""
    pipe = space.pipeline(modality)
    spec = space.registry.get("encoder", pipe.encoder_name)
    settings = spec.make_settings(space.settings.get(pipe.encoder_name))
    return {
        "encoder": pipe.encoder_name,
        "encoder_class": f"{type(pipe.encoder).__module__}.{type(pipe.encoder).__qualname__}",
        "settings": portable(settings.model_dump(mode="json")) if settings is not None else None,
        "weights": module_digest(pipe.encoder),
        "dim": int(pipe.encoder.dim),
    }


def array_fingerprint(array: np.ndarray, **recipe: Any) -> str:
    """Hash of an in-memory dataset's bytes and how it is rendered (e.g. ``invert=True``)."""
    digest = hashlib.sha256(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps(recipe, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:24]


def files_fingerprint(paths: Sequence[str | Path]) -> str:
    """Hash of file paths, sizes and modification times (a changed file changes the key)."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        stat = path.stat() if path.exists() else None
        digest.update(f"{path.resolve()}\0{stat.st_size if stat else -1}\0"
                      f"{stat.st_mtime_ns if stat else -1}\n".encode())
    return digest.hexdigest()[:24]


def default_cache_root() -> Path:
    from unibind.paths import cache_dir

    return cache_dir() / "eval-features"


def cached_features(space: Any, modality: str, items: Sequence[Any], data_key: str, *,
                    load: Callable[[Any], Any] | None = None, cache_root: str | Path | None = None,
                    part_size: int = DEFAULT_PART_SIZE, batch_size: int = 32,
                    progress: bool | None = None) -> Features:
    """Encoder features ``[n_ok, dim]`` of ``items`` (loaded samples, or paths with ``load``).

    ``data_key`` must change whenever the items do (see :func:`array_fingerprint`
    and :func:`files_fingerprint`). With ``load`` given, an item that raises
    is skipped and reported; the others finish.
    """
    pipe = space.pipeline(modality)
    identity = encoder_identity(space, modality)
    folder = Path(cache_root or default_cache_root()) / f"{identity_hash(identity)}-{data_key}-{len(items)}"
    starts = list(range(0, len(items), part_size))
    todo = [s for s in starts if not _part_path(folder, s).is_file()]
    for start in track(todo, description=f"encoding {modality} (cached in parts)", enabled=progress):
        if _part_path(folder, start).is_file():   # another process working on the same set wrote it
            continue
        chunk = items[start:start + part_size]
        vectors, ok, failures = _encode_part(pipe.encoder, chunk, start, load, batch_size)
        _write_part(folder, start, vectors, ok, failures, identity)
    return _read_parts(folder, starts, int(pipe.encoder.dim))


def cached_embeddings(space: Any, modality: str, items: Sequence[Any], data_key: str,
                      **kwargs: Any) -> Features:
    """Unit-norm space embeddings: cached encoder features through the space's adapter."""
    feats = cached_features(space, modality, items, data_key, **kwargs)
    with torch.inference_mode():
        adapter = space.pipeline(modality).adapter
        out = adapter(feats.vectors) if len(feats.index) else torch.empty(0, space.dim)
        return Features(F.normalize(out.float(), dim=-1), feats.index, feats.failures)


def _encode_part(encoder: Any, chunk: Sequence[Any], start: int, load: Callable[[Any], Any] | None,
                 batch_size: int) -> tuple[torch.Tensor, list[int], list[Failure]]:
    samples, ok, failures = [], [], []
    for offset, item in enumerate(chunk):
        if load is None:
            samples.append(item)
            ok.append(start + offset)
            continue
        try:
            samples.append(load(item))
            ok.append(start + offset)
        except Exception as exc:  # noqa: BLE001 - one bad item must not end the run
            reason = exc.problem if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            failures.append(Failure(source=str(item), reason=reason))
    vectors = encoder.encode(samples, batch_size=batch_size) if samples else torch.empty(0, encoder.dim)
    return vectors.float(), ok, failures


def _part_path(folder: Path, start: int) -> Path:
    return folder / f"part-{start:08d}.safetensors"


def _write_part(folder: Path, start: int, vectors: torch.Tensor, ok: list[int], failures: list[Failure],
                identity: dict[str, Any]) -> None:
    from unibind.atomic import save_tensors

    meta = {"failures": json.dumps([f.model_dump() for f in failures]),
            "encoder": json.dumps(identity, sort_keys=True, default=str)}
    save_tensors({"features": vectors, "index": torch.tensor(ok, dtype=torch.int64)},
                 _part_path(folder, start), metadata=meta)


def _read_parts(folder: Path, starts: list[int], dim: int) -> Features:
    from safetensors import safe_open

    vectors, index, failures = [], [], []
    for start in starts:
        path = _part_path(folder, start)
        try:
            with safe_open(str(path), framework="pt") as fh:
                vectors.append(fh.get_tensor("features"))
                index.extend(fh.get_tensor("index").tolist())
                failures.extend(Failure(**f) for f in json.loads((fh.metadata() or {}).get("failures", "[]")))
        except Exception as exc:  # noqa: BLE001 - a damaged part: say which, so it can be deleted
            raise InputError(path, f"unreadable feature-cache part ({exc}); delete it to recompute") from exc
    out = torch.cat(vectors) if vectors else torch.empty(0, dim)
    return Features(out, index, failures)
