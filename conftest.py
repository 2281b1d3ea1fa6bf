"""Session-wide test settings for every test tree (core, plugins, examples)."""

from __future__ import annotations

import os
import tempfile

# No test may reach a model hub; everything runs on shipped weights or tiny local models.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The user's plugin preferences (~/.config/unibind/config.toml) do not steer tests; a run that
# wants one sets UNIBIND_CONFIG (or UNIBIND_PREFER) itself.
os.environ.setdefault("UNIBIND_CONFIG", os.devnull)
# One cache for the whole run, outside the user's home: the ImageNet bridge's class-text
# embeddings are computed once per session instead of once per test tree.
os.environ.setdefault("UNIBIND_CACHE_DIR", tempfile.mkdtemp(prefix="unibind-test-cache-"))
