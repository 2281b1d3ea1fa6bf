"""The index file: FAISS indexes (one per modality), the file list and the space, in ONE file.

One safetensors file, replaced in one rename on every save, so a killed run
leaves the previous index whole: tensors ``faiss.<modality>`` (serialised
FAISS indexes) and ``items`` (UTF-8 JSON: ids, paths and modalities), and a
header record (:class:`IndexRecord`) with the space identity and the settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from unibind.version import __version__
from unibind.errors import InputError
from unibind.index import engine
from unibind.index.settings import IndexSettings

FORMAT = "unibind-index"


class ModalityPart(BaseModel):
    kind: str
    count: int = 0
    trained_on: int = Field(0, description="Vectors the IVF cells were trained on (0: not IVF).")


class IndexRecord(BaseModel):
    """What the index says about itself (the safetensors header)."""

    format: Literal["unibind-index"] = FORMAT
    version: int = 1
    unibind_version: str = __version__
    dim: int
    space: dict[str, Any] = Field(description="unibind.index.identity.space_identity of the space it was built with.")
    sources: list[str] = Field(default_factory=list, description="Folders / manifests it was built and grown from.")
    settings: IndexSettings = Field(default_factory=IndexSettings)
    modalities: dict[str, ModalityPart] = Field(default_factory=dict)


@dataclass
class SearchIndex:
    """Vectors of files of any modality, searchable by cosine; paths are the keys users see."""

    record: IndexRecord
    indexes: dict[str, Any] = field(default_factory=dict)
    items: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (path, modality)
    next_id: int = 0

    @classmethod
    def new(cls, dim: int, space: dict[str, Any], settings: IndexSettings | None = None,
            sources: list[str] | None = None) -> SearchIndex:
        return cls(IndexRecord(dim=dim, space=space, settings=settings or IndexSettings(), sources=sources or []))

    def __len__(self) -> int:
        return len(self.items)

    @property
    def settings(self) -> IndexSettings:
        return self.record.settings

    def paths(self) -> dict[str, int]:
        return {path: item_id for item_id, (path, _) in self.items.items()}

    # -- changing ----------------------------------------------------------------------
    def add(self, modality: str, vectors: Any, paths: list[str]) -> list[str]:
        """Add vectors under their paths; paths already indexed are left as they are. Returns those added."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.record.dim or len(vectors) != len(paths):
            raise ValueError(f"expected {len(paths)} vectors of dim {self.record.dim}, got {vectors.shape}")
        seen = set(self.paths())
        fresh = []
        for i, path in enumerate(paths):
            if path not in seen:
                seen.add(path)
                fresh.append(i)
        if not fresh:
            return []
        vectors = vectors[fresh]
        ids = np.arange(self.next_id, self.next_id + len(fresh), dtype=np.int64)
        part = self.record.modalities.get(modality)
        total = (part.count if part else 0) + len(fresh)
        wanted = engine.choose_kind(self.settings, total)
        if part is None:
            index = engine.make(wanted, vectors, ids, self.settings)
            part = ModalityPart(kind=wanted, trained_on=len(vectors) if wanted == "ivf" else 0)
        elif wanted != part.kind or (part.kind == "ivf" and total > self.settings.retrain_growth * part.trained_on):
            old_ids, old_vectors = engine.stored(self.indexes[modality])  # rebuild: flat grew past the threshold
            index = engine.make(wanted, np.concatenate([old_vectors, vectors]), np.concatenate([old_ids, ids]),
                                self.settings)
            part = ModalityPart(kind=wanted, trained_on=total if wanted == "ivf" else 0)
        else:
            index = self.indexes[modality]
            engine.add(index, vectors, ids)
        self.indexes[modality] = index
        part.count = total
        self.record.modalities[modality] = part
        added = [paths[i] for i in fresh]
        self.items.update({int(i): (p, modality) for i, p in zip(ids, added)})
        self.next_id += len(fresh)
        return added

    def remove(self, paths: list[str]) -> list[str]:
        """Delete these paths from the index; returns those that were in it."""
        known = self.paths()
        gone = [p for p in dict.fromkeys(paths) if p in known]
        by_modality: dict[str, list[int]] = {}
        for path in gone:
            by_modality.setdefault(self.items[known[path]][1], []).append(known[path])
        for modality, ids in by_modality.items():
            self.indexes[modality] = engine.remove(self.indexes[modality], np.array(ids), self.settings)
            part = self.record.modalities[modality]
            part.count -= len(ids)
            for item_id in ids:
                del self.items[item_id]
            if part.count == 0:
                del self.indexes[modality], self.record.modalities[modality]
        return gone

    # -- disk ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the whole index to ``path`` atomically (a kill leaves the previous file)."""
        from safetensors.numpy import save_file

        from unibind.atomic import atomic_path

        items = {"next_id": self.next_id, "items": [[i, p, m] for i, (p, m) in sorted(self.items.items())]}
        tensors = {f"faiss.{m}": engine.to_bytes(index) for m, index in self.indexes.items()}
        tensors["items"] = np.frombuffer(json.dumps(items).encode("utf-8"), dtype=np.uint8).copy()
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"format": FORMAT, "unibind_index": self.record.model_dump_json()})
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> SearchIndex:
        return cls._read(Path(path), everything=True)

    @classmethod
    def read_record(cls, path: str | Path) -> IndexRecord:
        """Only the header: what ``unibind index info`` shows, without reading the vectors."""
        return cls._read(Path(path), everything=False).record

    @classmethod
    def _read(cls, path: Path, *, everything: bool) -> SearchIndex:
        from safetensors import SafetensorError, safe_open

        if not path.is_file():
            raise InputError(path, "no index file here (build one with `unibind index build`)")
        try:
            with safe_open(str(path), framework="numpy") as fh:
                header = fh.metadata() or {}
                if header.get("format") != FORMAT:
                    raise InputError(path, "not a UniBind index (no 'unibind-index' metadata)")
                tensors = {key: fh.get_tensor(key) for key in fh.keys()} if everything else {}  # noqa: SIM118
        except (SafetensorError, OSError) as exc:
            raise InputError(path, f"not an index file: {exc}") from None
        try:
            record = IndexRecord.model_validate_json(header["unibind_index"])
            items = json.loads(tensors["items"].tobytes().decode("utf-8")) if everything else None
        except (KeyError, ValueError, ValidationError) as exc:
            raise InputError(path, f"index record is unreadable: {str(exc).splitlines()[0]}") from None
        if items is None:
            return cls(record)
        indexes = {m: engine.from_bytes(tensors[f"faiss.{m}"]) for m in record.modalities}
        return cls(record, indexes, {int(i): (p, m) for i, p, m in items["items"]}, int(items["next_id"]))
