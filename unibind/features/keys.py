"""Content keys: what a cached feature row is *of*, independent of where it came from.

A file is keyed by the SHA-256 of its bytes (a renamed or copied file hits the
cache, an edited one misses it); an in-memory sample by a hash of its bytes,
shape and type. The two kinds carry different prefixes, so they never collide.
How the sample is decoded and encoded belongs to the cache's *encoder
identity*, not to the key.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from unibind.identity import sha256_file


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), computed once per process while the file is unchanged.

    ``eval report`` and ``calibrate`` hash each data file to see whether the space trained on it,
    then again for its feature-cache key; the second is now a lookup.
    """
    st = Path(path).stat()
    return _hash_of(str(Path(path).resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1 << 16)
def _hash_of(path: str, device: int, inode: int, size: int, mtime_ns: int) -> str:
    """Keyed by the file's identity and stamp: an edited or replaced file is hashed afresh."""
    return sha256_file(path)


def bytes_key(data: bytes) -> str:
    """Key of a file's content already in memory (e.g. a tar member): equal to :func:`file_key` of that file."""
    return "file:" + hashlib.sha256(data).hexdigest()


def file_key(path: str | Path) -> str:
    return "file:" + file_hash(path)


def array_key(array: Any) -> str:
    """Key of an in-memory sample: a numpy array, a torch tensor or a PIL image."""
    digest = hashlib.sha256()
    if hasattr(array, "getdata") and hasattr(array, "mode"):  # PIL image
        digest.update(f"pil\0{array.mode}\0{array.size}\0".encode())
        digest.update(array.tobytes())
        return "array:" + digest.hexdigest()
    if hasattr(array, "detach"):  # torch tensor
        array = array.detach().cpu().numpy()
    array = np.ascontiguousarray(array)
    digest.update(f"np\0{array.dtype.str}\0{array.shape}\0".encode())
    digest.update(array.tobytes())
    return "array:" + digest.hexdigest()


def content_key(item: Any) -> str:
    """A path's file key, or an in-memory sample's array key."""
    if isinstance(item, (str, Path)):
        return file_key(item)
    return array_key(item)
