"""The one feature cache: frozen-encoder features keyed by encoder identity and content.

- :mod:`unibind.features.keys`: content keys (file SHA-256, in-memory array hash)
- :mod:`unibind.features.cache`: :class:`FeatureCache`, safe for many processes at once
- :mod:`unibind.features.extract`: :class:`FrozenEncoder`, :func:`extract_features`, :class:`CachedRows`

Names are imported on first use, so reading the cache does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DEFAULT_SHARD_ROWS": "cache", "FeatureCache": "cache", "default_cache_root": "cache",
    "CachedRows": "extract", "Features": "extract", "FrozenEncoder": "extract", "encoder_identity": "extract",
    "extract_features": "extract", "extract_samples": "extract",
    "array_key": "keys", "bytes_key": "keys", "content_key": "keys", "file_hash": "keys", "file_key": "keys",
}
__all__ = ["DEFAULT_SHARD_ROWS", "CachedRows", "FeatureCache", "Features", "FrozenEncoder", "array_key", "bytes_key",
           "content_key", "default_cache_root", "encoder_identity", "extract_features", "extract_samples",
           "file_hash", "file_key"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'unibind.features' has no attribute {name!r}")
    return getattr(importlib.import_module(f"unibind.features.{_WHERE[name]}"), name)
