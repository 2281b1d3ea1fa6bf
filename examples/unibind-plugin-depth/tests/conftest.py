"""Shared fixtures: the default depth encoder, built once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def depth_encoder():
    """The default depth-render encoder (and so the default image encoder), built once."""
    from unibind.plugins import get_registry

    return get_registry().get("encoder", "depth-render").build()
