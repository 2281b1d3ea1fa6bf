"""Where UniBind keeps its caches."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$UNIBIND_CACHE_DIR``, else ``$XDG_CACHE_HOME/unibind``, else ``~/.cache/unibind``."""
    explicit = os.environ.get("UNIBIND_CACHE_DIR")
    if explicit:
        root = Path(explicit)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "unibind"
    root.mkdir(parents=True, exist_ok=True)
    return root
