"""Training's frozen-encoder features: the one feature cache in :mod:`unibind.features` (re-exported)."""

from unibind.features.cache import DEFAULT_SHARD_ROWS, FeatureCache
from unibind.features.extract import CachedRows, Features, FrozenEncoder, extract_features
from unibind.features.keys import file_hash

__all__ = ["DEFAULT_SHARD_ROWS", "CachedRows", "FeatureCache", "Features", "FrozenEncoder", "extract_features",
           "file_hash"]
