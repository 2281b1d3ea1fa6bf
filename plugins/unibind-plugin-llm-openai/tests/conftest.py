"""A real chat-completions server on 127.0.0.1 (random port) per test, and settings that point at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from unibind_plugin_llm_openai.fakeserver import FakeChatServer
from unibind_plugin_llm_openai.settings import OpenAISettings


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    with FakeChatServer(classes=("dog", "cat", "golden retriever")) as fake:
        yield fake


@pytest.fixture
def settings(server: FakeChatServer) -> Callable[..., OpenAISettings]:
    """``settings(**overrides)``: the fake server, no key needed, back-off kept to milliseconds."""

    def make(**overrides) -> OpenAISettings:
        values = {"base_url": server.base_url, "model": "fake", "backoff_base": 0.001, "backoff_max": 0.01,
                  "timeout": 5.0, **overrides}
        return OpenAISettings(**values)

    return make
