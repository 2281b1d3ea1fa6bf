"""Shared fixtures: the real WordNet 3.0 of Debian's wordnet-base, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def source():
    """The wordnet source with default settings (WordNet from /usr/share/wordnet)."""
    from unibind_plugin_wordnet.source import WordNetSource

    return WordNetSource()


@pytest.fixture(scope="session")
def wn(source):
    return source.wn
