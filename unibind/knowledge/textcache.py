"""Text embeddings cached per (text encoder identity, text), so nothing is encoded twice.

The cache is one SQLite file (by default ``<cache dir>/text-embeddings.sqlite``,
shared by every knowledge base) holding float32 vectors keyed by the
SHA-256 of the text and a hash of the encoder's identity: its registered
name, class, model source (path or hub name) with the SHA-256 of the files
there (content, never paths or times: see unibind.identity), output dimension, validated settings, and the text adapter with a
digest of its weights. Change any of those and the hash changes, so stale
vectors are never served; they simply stop being looked up (``prune``
removes them).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from unibind.sqlite_wal import use_wal
from unibind.identity import (  # noqa: F401 (re-exported)
    identity_hash,
    module_digest,
    space_text_identity,
)
from unibind.knowledge.records import now
from unibind.progress import track

_SCHEMA = (
    ("CREATE TABLE IF NOT EXISTS encoders (hash TEXT PRIMARY KEY, identity TEXT NOT NULL,"
     " dim INTEGER NOT NULL, created_at TEXT NOT NULL)"),
    ("CREATE TABLE IF NOT EXISTS vectors (encoder TEXT NOT NULL, text_hash BLOB NOT NULL,"
     " vector BLOB NOT NULL, PRIMARY KEY (encoder, text_hash)) WITHOUT ROWID"),
)
_LOOKUP_CHUNK = 500


def _text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def default_cache_path() -> Path:
    from unibind.paths import cache_dir

    return cache_dir() / "text-embeddings.sqlite"


class TextEmbeddingCache:
    """Vectors by (encoder hash, text); safe to share between processes (WAL)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=60)
        use_wal(self.db)
        self.db.execute("PRAGMA synchronous=NORMAL")  # a lost cache write only costs a re-encode
        for statement in _SCHEMA:
            self.db.execute(statement)

    def close(self) -> None:
        self.db.close()

    def get(self, encoder: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``texts``, by text."""
        by_hash = {_text_hash(t): t for t in texts}
        hashes = list(by_hash)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), _LOOKUP_CHUNK):
            part = hashes[start:start + _LOOKUP_CHUNK]
            rows = self.db.execute(
                f"SELECT text_hash, vector FROM vectors WHERE encoder = ? AND text_hash IN"
                f" ({', '.join('?' * len(part))})", [encoder, *part])
            for h, blob in rows:
                found[by_hash[h]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, encoder: str, identity: dict[str, Any], texts: Sequence[str],
            vectors: torch.Tensor) -> None:
        array = vectors.detach().to(torch.float32).cpu().numpy()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            described = json.dumps(identity, sort_keys=True, default=str)
            self.db.execute("INSERT OR IGNORE INTO encoders VALUES (?, ?, ?, ?)",
                            (encoder, described, array.shape[1], now()))
            self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                [(encoder, _text_hash(t), row.tobytes()) for t, row in zip(texts, array)])
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def count(self, encoder: str | None = None) -> int:
        if encoder is None:
            return self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM vectors WHERE encoder = ?", (encoder,)).fetchone()[0]

    def prune(self, keep: Sequence[str]) -> int:
        """Drop the vectors of every encoder not in ``keep``; returns how many went."""
        marks = ", ".join("?" * len(keep)) or "''"
        self.db.execute("BEGIN IMMEDIATE")
        gone = self.db.execute(f"DELETE FROM vectors WHERE encoder NOT IN ({marks})", list(keep)).rowcount
        self.db.execute(f"DELETE FROM encoders WHERE hash NOT IN ({marks})", list(keep))
        self.db.execute("COMMIT")
        return gone


class TextEmbedder:
    """Unit-norm text embeddings through a cache: only texts never seen by this encoder are encoded.

    ``encode`` maps a list of texts to ``[N, d]``; ``identity`` says what
    the encoder is (see the module docstring). ``encoded`` counts the texts
    actually sent to the encoder.
    """

    def __init__(self, encode: Callable[[list[str]], torch.Tensor], identity: dict[str, Any], *,
                 cache: TextEmbeddingCache | str | Path | None | bool = True, batch_size: int = 256,
                 precision: str = "fp32"):
        self.encode = encode
        self.identity = identity
        self.hash = identity_hash(identity)
        #: The cache's key: bf16/fp16 embeddings are filed apart from fp32 ones (the text side's
        #: identity, which centres record, stays the model's: unibind.devices).
        self.cache_key = self.hash if precision == "fp32" else identity_hash({**identity, "precision": precision})
        if cache is True:
            cache = TextEmbeddingCache()
        elif isinstance(cache, (str, Path)):
            cache = TextEmbeddingCache(cache)
        self.cache: TextEmbeddingCache | None = cache or None
        self.batch_size = batch_size
        self.encoded = 0
        self.looked_up = 0

    @classmethod
    def from_space(cls, space: Any, **kwargs: Any) -> TextEmbedder:
        """The text side of a :class:`~unibind.space.Space` (encoder + text adapter)."""
        return cls(space.embed_text, space_text_identity(space), precision=getattr(space, "precision", "fp32"),
                   **kwargs)

    @property
    def dim(self) -> int:
        return int(self.identity.get("dim") or 0)

    def __call__(self, texts: Sequence[str], *, progress: bool | None = None) -> torch.Tensor:
        texts = [str(t) for t in texts]
        self.looked_up += len(texts)
        found = self.cache.get(self.cache_key, texts) if self.cache is not None else {}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            batches = [missing[i:i + self.batch_size] for i in range(0, len(missing), self.batch_size)]
            show = progress if progress is not None else len(batches) > 4
            for batch in track(batches, description="embedding texts", enabled=show):
                vectors = F.normalize(self.encode(batch).float(), dim=-1)
                self.encoded += len(batch)
                if self.cache is not None:
                    self.cache.put(self.cache_key, self.identity, batch, vectors)
                found.update(zip(batch, vectors.cpu().numpy()))
        if not texts:
            return torch.empty(0, self.dim)
        return torch.from_numpy(np.stack([found[t] for t in texts]).astype(np.float32, copy=False))
