"""The one feature cache: frozen-encoder features keyed by encoder identity and content.

- :mod:`unibind.features.keys`: content keys (file SHA-256, in-memory array hash)
- :mod:`unibind.features.cache`: :class:`FeatureCache`, safe for many processes at once
- :mod:`unibind.features.extract`: :class:`FrozenEncoder`, :func:`extract_features`, :class:`CachedRows`
"""

from unibind.features.cache import DEFAULT_SHARD_ROWS, FeatureCache, default_cache_root
from unibind.features.extract import (CachedRows, Features, FrozenEncoder, encoder_identity, extract_features,
                                      extract_samples)
from unibind.features.keys import array_key, bytes_key, content_key, file_hash, file_key

__all__ = ["DEFAULT_SHARD_ROWS", "CachedRows", "FeatureCache", "Features", "FrozenEncoder", "array_key",
           "bytes_key", "content_key", "default_cache_root", "encoder_identity", "extract_features",
           "extract_samples", "file_hash", "file_key"]
