"""Features for the reports: the core's feature cache, then the modality's default adapter.

Used by ``fusion_report.py`` and ``multilabel_report.py``; the frozen encoder
runs once per file content (``unibind.features``), so reruns take
seconds.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from unibind import Space
from unibind.features import FeatureCache, FrozenEncoder, extract_features


def space_features(space: Space, modality: str, paths: list[Path], cache: Path
                   ) -> tuple[torch.Tensor, torch.Tensor, list[Path]]:
    """Frozen-encoder features of ``paths``, their unit-norm embeddings in the text space, and the
    files they belong to (unreadable files are skipped and printed)."""
    name = space.pipeline(modality).encoder_name
    frozen = FrozenEncoder.from_registry(modality, name, settings=space.settings)
    found = extract_features(paths, frozen, FeatureCache(cache, frozen.identity))
    for failure in found.failures:
        print(f"skipped {failure.source}: {failure.reason}")
    with torch.inference_mode():
        embedded = F.normalize(space.pipeline(modality).adapter(found.vectors), dim=-1)
    return found.vectors, embedded, [Path(s) for s in found.sources]
