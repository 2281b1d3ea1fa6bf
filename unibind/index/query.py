"""Searching an index: text or a file as the query, hits of any modality, calibrated where possible.

The score of a hit is its cosine similarity to the query. Where the space has
a calibrator for the hit's modality that does not depend on class order
(temperature scaling), each hit also gets a calibrated probability: the
calibrator's softmax over the hits of that modality shown, i.e. how sure the
space is that this hit is the best match among them (the same question the
calibrator was fitted on, with hits in place of classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unibind.errors import InputError
from unibind.index import engine
from unibind.index.identity import space_identity
from unibind.index.settings import IndexSettings
from unibind.index.store import SearchIndex


@dataclass
class Hit:
    rank: int
    path: str
    modality: str
    cosine: float
    probability: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "path": self.path, "modality": self.modality, "cosine": round(self.cosine, 6),
                "probability": None if self.probability is None else round(self.probability, 6)}


@dataclass
class Results:
    query: str
    query_modality: str
    hits: list[Hit]
    calibrated: dict[str, bool] = field(default_factory=dict)  # modality -> has a calibrated probability


class SpaceMismatch(InputError):
    """The index was built with another space (its vectors are not comparable)."""


def check_space(index: SearchIndex, space: Any, index_path: str | Path, space_label: str) -> None:
    """Refuse a space whose identity differs from the one the index was built with."""
    have = space_identity(space)
    built = index.record.space
    if have["hash"] != built.get("hash"):
        sources = " ".join(index.record.sources) or "DIR"
        raise SpaceMismatch(index_path, f"built with space {built.get('source')} (identity {built.get('hash')}), "
                            f"not with {space_label} (identity {have['hash']}); rebuild it with "
                            f"`unibind index build {sources} --space {space_label} --out {index_path} --force`")


def embed_query(space: Any, query: str, *, as_text: bool = False) -> tuple[np.ndarray, str]:
    """The query's vector and modality: an existing file is embedded as its modality, anything else as text."""
    path = Path(query)
    if not as_text and not path.is_file() and _looks_like_a_path(query, space):
        raise InputError(query, "no such file (to search for these words as text, add --text)")
    if not as_text and path.is_file():
        embedded = space.embed_files([path], progress=False)
        if embedded.failures:
            raise InputError(path, embedded.failures[0].reason)
        return embedded.vectors.float().numpy(), embedded.modality
    return space.embed_text([query]).float().numpy(), "text"


def _looks_like_a_path(query: str, space: Any) -> bool:
    """One word with a folder separator or a suffix some modality reads: a mistyped file, not a sentence."""
    from unibind.errors import NotRegisteredError

    if not query.strip() or any(ch.isspace() for ch in query.strip()):
        return False
    if "/" in query or "\\" in query:
        return True
    try:
        space.registry.modality_for_path(query)
    except NotRegisteredError:
        return False
    return True


def search(index: SearchIndex, space: Any, query: str, *, k: int = 20, modality: str | None = None,
           balanced: bool = False, calibrators: dict[str, Any] | None = None,
           settings: IndexSettings | None = None, as_text: bool = False) -> Results:
    """Top ``k`` hits over every modality (or only ``modality``); ``balanced``: top ``k`` of each modality."""
    if modality is not None and modality not in index.indexes:
        held = ", ".join(sorted(index.indexes)) or "none"
        raise InputError(f"--modality {modality}", f"the index holds no {modality} items (it holds: {held})")
    vector, query_modality = embed_query(space, query, as_text=as_text)
    settings = settings or index.settings
    per_modality: dict[str, list[Hit]] = {}
    for mod in [modality] if modality else sorted(index.indexes):
        scores, ids = engine.search(index.indexes[mod], vector, k, settings)
        per_modality[mod] = [Hit(0, index.items[int(i)][0], mod, float(s))
                             for s, i in zip(scores[0], ids[0]) if i >= 0]
    calibrated = {mod: _calibrate(hits, (calibrators or {}).get(mod), space) for mod, hits in per_modality.items()}
    if balanced:
        hits = [hit for mod in sorted(per_modality) for hit in per_modality[mod]]
    else:
        hits = sorted((h for group in per_modality.values() for h in group), key=lambda h: -h.cosine)[:k]
    for rank, hit in enumerate(hits, start=1):
        hit.rank = rank
    return Results(query, query_modality, hits, calibrated)


def _calibrate(hits: list[Hit], calibrator: Any, space: Any) -> bool:
    """Fill ``probability`` from a class-order-free calibrator; False when there is none to use."""
    import torch

    if calibrator is None or not hits or getattr(getattr(calibrator, "record", None), "class_specific", True):
        return False
    scale = calibrator.record.logit_scale or space.logit_scale
    logits = scale * torch.tensor([[h.cosine for h in hits]], dtype=torch.float64)
    probs = calibrator(logits)[0].tolist()
    for hit, p in zip(hits, probs):
        hit.probability = float(p)
    return True
