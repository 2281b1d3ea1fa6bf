"""Parameters of a search index: which FAISS structure, and how it trades recall for speed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class IndexSettings(BaseModel):
    """Saved with the index; ``nprobe`` and ``ef_search`` may be changed for one search."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["auto", "flat", "ivf", "hnsw"] = Field(
        "auto", description="auto: exact flat search below `exact_below` items of a modality, IVF above.")
    exact_below: int = Field(50_000, ge=1, description="auto: modalities with fewer items are searched exactly.")
    nlist: int | None = Field(None, ge=1, description="IVF cells; None: 4 x sqrt(items) when trained.")
    nprobe: int = Field(32, ge=1, description="IVF cells visited per query (recall against speed).")
    train_size: int = Field(64, ge=39, description="IVF k-means uses at most this many vectors per cell.")
    train_iterations: int = Field(10, ge=1, le=100, description="IVF k-means iterations.")
    hnsw_m: int = Field(32, ge=4, le=256, description="HNSW links per node.")
    ef_construction: int = Field(40, ge=8, description="HNSW candidate list while building.")
    ef_search: int = Field(64, ge=1, description="HNSW candidate list while searching.")
    retrain_growth: float = Field(8.0, gt=1.0, description="Retrain an IVF index once it holds this many "
                                  "times the items it was trained on.")
    gpu: Literal["auto", "off"] = Field("auto", description="auto: search on every GPU faiss sees (faiss-gpu).")
    save_every: int = Field(4096, ge=1, description="Files embedded between two atomic saves (resume point).")


def parse_assignments(pairs: tuple[str, ...] | list[str], base: IndexSettings | None = None) -> IndexSettings:
    """``["nprobe=64", "kind=ivf"]`` applied over ``base``, validated (raises ValueError naming the key)."""
    from pydantic import ValidationError

    values = base.model_dump() if base is not None else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{pair!r} is not KEY=VALUE")
        key = key.strip().replace("-", "_")
        if key not in IndexSettings.model_fields:
            raise ValueError(f"unknown index setting {key!r} (settings: {', '.join(IndexSettings.model_fields)})")
        values[key] = None if value.strip().lower() in ("none", "") else value.strip()
    try:
        return IndexSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"index setting {where}: {first['msg']}") from None
