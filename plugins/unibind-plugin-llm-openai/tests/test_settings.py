"""Settings: no key in them, local servers need none, templates checked, traffic not hashed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from unibind.knowledge.records import settings_hash
from unibind_plugin_llm_openai.client import api_key
from unibind_plugin_llm_openai.errors import MissingKeyError
from unibind_plugin_llm_openai.settings import OpenAISettings, is_local_host


def test_a_key_given_as_a_setting_is_refused() -> None:
    with pytest.raises(ValidationError, match="environment variable named by api_key_env"):
        OpenAISettings(api_key="sk-secret")


@pytest.mark.parametrize(("host", "local"), [
    ("localhost", True), ("127.0.0.1", True), ("::1", True), ("192.168.1.20", True), ("10.0.0.3", True),
    ("gpu-box.local", True), ("api.openai.com", False), ("8.8.8.8", False), ("example.org", False),
])
def test_local_hosts(host: str, local: bool) -> None:
    assert is_local_host(host) is local


def test_missing_key_for_a_remote_server_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_LLM_KEY", raising=False)
    remote = OpenAISettings(base_url="https://llm.example.org/v1", api_key_env="MY_LLM_KEY")
    with pytest.raises(MissingKeyError, match="MY_LLM_KEY"):
        api_key(remote)
    assert api_key(remote.model_copy(update={"require_key": False})) is None
    assert api_key(OpenAISettings(base_url="http://localhost:11434/v1", api_key_env="MY_LLM_KEY")) is None
    with pytest.raises(MissingKeyError):
        api_key(OpenAISettings(base_url="http://localhost:8000/v1", api_key_env="MY_LLM_KEY",
                               require_key=True, allow_http_key=True))
    monkeypatch.setenv("MY_LLM_KEY", "  sk-from-env ")
    assert api_key(remote) == "sk-from-env"


def test_prompt_templates_are_checked() -> None:
    with pytest.raises(ValidationError, match="unknown field"):
        OpenAISettings(user_prompt="Describe a {nmae}.")
    with pytest.raises(ValidationError, match="not a valid format string"):
        OpenAISettings(user_prompt="Describe a {name.")
    assert OpenAISettings(user_prompt="{n} texts on a {name} ({class_id}), {aspect}, {modality}.")


def test_bad_url_and_clashing_extra_body() -> None:
    with pytest.raises(ValidationError, match="http"):
        OpenAISettings(base_url="localhost:8000/v1")
    with pytest.raises(ValidationError, match="extra_body may not set"):
        OpenAISettings(extra_body={"messages": []})
    assert OpenAISettings(base_url="http://h:1/v1/", require_key=False).base_url == "http://h:1/v1"


def test_traffic_settings_do_not_change_the_job_key() -> None:
    """A build resumed with more concurrency or a bigger budget continues the same jobs."""
    base = OpenAISettings(model="m")
    busier = OpenAISettings(model="m", max_concurrency=16, max_requests=10, max_retries=1, timeout=3,
                            requests_per_minute=30, backoff_base=2)
    assert settings_hash("llm-openai", base) == settings_hash("llm-openai", busier)
    assert settings_hash("llm-openai", base) != settings_hash("llm-openai", OpenAISettings(model="m2"))
    assert settings_hash("llm-openai", base) != settings_hash("llm-openai",
                                                              OpenAISettings(model="m", temperature=0.2))
    assert "api_key_env" in base.model_dump() and "max_concurrency" not in base.model_dump()
