"""Frozen-encoder features of files, cached on disk so the reports rerun in seconds.

Used by ``fusion_report.py`` and ``multilabel_report.py``. The cache file is
keyed by the modality, the encoder, and every file's path, size and mtime; it
is written atomically (safetensors), so a killed run leaves either the old
cache or the new one. Unreadable files are skipped and listed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open

from unibind.atomic import save_tensors
from unibind.errors import InputError
from unibind.results import Failure


def encoder_features(space, modality: str, paths: Sequence[Path], cache_dir: Path, *,
                     batch: int = 16) -> tuple[torch.Tensor, list[Path], list[Failure]]:
    """Features ``[N, d]`` of the frozen encoder of ``modality`` (before the adapter), cached."""
    pipe = space.pipeline(modality)
    paths = [Path(p) for p in paths]
    key = hashlib.sha256(json.dumps([modality, pipe.encoder_name] + [
        [str(p), p.stat().st_size, p.stat().st_mtime_ns] if p.exists() else [str(p)] for p in paths
    ]).encode()).hexdigest()[:16]
    target = Path(cache_dir) / f"{modality}-{pipe.encoder_name}-{key}.safetensors"
    if target.is_file():
        with safe_open(str(target), "pt") as fh:
            meta = fh.metadata()
            kept = [Path(p) for p in json.loads(meta["sources"])]
            failures = [Failure(**f) for f in json.loads(meta["failures"])]
            return fh.get_tensor("features"), kept, failures
    kept, failures, parts = [], [], []
    samples = []
    for path in paths:
        try:
            samples.append(pipe.loader.load(path))
            kept.append(path)
        except InputError as exc:
            failures.append(Failure(source=str(path), reason=exc.problem))
    with torch.inference_mode():
        for start in range(0, len(samples), batch):
            parts.append(pipe.encoder.encode(samples[start:start + batch]).float())
            print(f"  {modality}: {min(start + batch, len(samples))}/{len(samples)}", flush=True)
    features = torch.cat(parts) if parts else torch.empty(0, pipe.encoder.dim)
    save_tensors({"features": features}, target, metadata={
        "sources": json.dumps([str(p) for p in kept]),
        "failures": json.dumps([f.model_dump() for f in failures])})
    return features, kept, failures


def to_space(space, modality: str, features: torch.Tensor) -> torch.Tensor:
    """Encoder features through the modality's adapter into the text space, unit norm."""
    pipe = space.pipeline(modality)
    with torch.inference_mode():
        return torch.nn.functional.normalize(pipe.adapter(features), dim=-1)
