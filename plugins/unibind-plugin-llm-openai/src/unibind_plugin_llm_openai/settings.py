"""Settings of the ``llm-openai`` description source.

Two groups. What shapes the text (server, model, prompts, sampling, filter) is part of
the knowledge base's job key (its settings hash). What only shapes the traffic
(concurrency, retries, back-off, timeout, rate, request budget) is excluded from it
(``exclude=True``), so an interrupted build can be resumed with more concurrency or a
bigger budget and still continue the same jobs. The API key is never a setting: only
the name of the environment variable holding it is; it travels only over https, or over
plain http to a loopback server when ``allow_http_key=true`` says so.
"""

from __future__ import annotations

import ipaddress
import string
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from unibind.knowledge.filters import FilterSettings

#: Fields a prompt template may use.
PROMPT_FIELDS = ("name", "n", "aspect", "modality", "class_id")

DEFAULT_SYSTEM_PROMPT = (
    "You write short, factual descriptions of things for a dataset that teaches a recognition model "
    "what each class looks like, sounds like and where it is found."
)
DEFAULT_USER_PROMPT = (
    "Write {n} different one-sentence descriptions of a {name} {modality}. "
    "Focus on {aspect}. Every sentence must name the {name} and be true of a typical one."
)
DEFAULT_ASPECTS = (
    "its appearance", "its parts and shape", "its colours and texture", "where it is usually found",
    "what it does or how it is used", "its size compared with familiar things",
    "what distinguishes it from similar things", "the sounds it makes or that go with it",
)
JSON_INSTRUCTION = 'Answer with a JSON object {{"descriptions": [...]}} holding exactly {n} strings.'
TEXT_INSTRUCTION = "Write one description per line, with no numbering and nothing else."


class OpenAISettings(BaseModel):
    """Settings of the llm-openai description source (any OpenAI-compatible chat server)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # errors never echo a secret

    # -- what shapes the text (in the settings hash) -----------------------------------
    base_url: str = Field(
        default="https://api.openai.com/v1",
        description="Server root up to /v1: OpenAI, vLLM (http://host:8000/v1), Ollama "
                    "(http://localhost:11434/v1), llama.cpp server (http://localhost:8080/v1).")
    model: str = Field(default="gpt-4o-mini", min_length=1, description="Model name on the server.")
    api_key_env: str = Field(default="OPENAI_API_KEY", min_length=1,
                             description="Environment variable holding the key (never the key itself).")
    require_key: bool | None = Field(
        default=None, description="None: a key is required unless base_url is a local or private host.")
    allow_http_key: bool = Field(
        default=False, exclude=True,
        description="Send the key over plain http to a loopback server (localhost, 127.0.0.1, ::1); "
                    "without it the key goes only over https. Never allowed for another host.")
    temperature: float = Field(default=1.0, ge=0, le=2,
                               description="Above 0, so that repeated requests give different texts.")
    max_tokens: int = Field(default=800, ge=16, description="Token limit of one reply.")
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens", description="OpenAI's newer models want max_completion_tokens.")
    descriptions_per_request: int = Field(default=5, ge=1, le=100,
                                          description="Descriptions asked for in one request.")
    json_mode: bool = Field(default=True, description='Ask for {"descriptions": [...]} with '
                            'response_format json_object; plain-text replies are still parsed.')
    system_prompt: str = Field(default=DEFAULT_SYSTEM_PROMPT, description="System message ('' for none).")
    user_prompt: str = Field(default=DEFAULT_USER_PROMPT,
                             description="User message; fields: {name}, {n}, {aspect}, {class_id} and "
                                         "{modality} (a phrase such as 'as it appears in photographs').")
    aspects: list[str] = Field(default_factory=lambda: list(DEFAULT_ASPECTS),
                               description="Request i asks about aspects[i % len]: varied texts.")
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="Added to every request body (e.g. top_p, a server's own options).")
    filter: FilterSettings = Field(default_factory=FilterSettings)

    # -- what shapes only the traffic (not in the settings hash) -------------------------------
    max_concurrency: int = Field(default=4, ge=1, le=64, exclude=True,
                                 description="Requests in flight at most.")
    max_retries: int = Field(default=5, ge=0, exclude=True,
                             description="Retries of one request on 408/409/425/429/5xx, timeouts, "
                                         "connection errors.")
    backoff_base: float = Field(default=0.5, ge=0, exclude=True,
                                description="Seconds; retry r waits uniform(0, min(max, base * 2**r)).")
    backoff_max: float = Field(default=30.0, ge=0, exclude=True)
    retry_after_max: float = Field(default=120.0, ge=0, exclude=True,
                                   description="Longest Retry-After honoured (seconds).")
    timeout: float = Field(default=120.0, gt=0, exclude=True,
                           description="Seconds to connect, to send, and to wait for the reply's bytes.")
    requests_per_minute: float | None = Field(default=None, gt=0, exclude=True,
                                              description="Client-side rate limit; None: none.")
    max_requests: int | None = Field(
        default=None, ge=1, exclude=True,
        description="Request budget of one source instance (every HTTP attempt counts); None: no limit.")
    max_request_factor: float = Field(
        default=3.0, ge=1, exclude=True,
        description="One describe(n) call sends at most factor * ceil(n / descriptions_per_request) "
                    "requests, so a model writing only rejected text cannot loop for ever.")

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_settings(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"api_key", "key", "token", "password", "authorization"} & set(data)):
            raise ValueError("llm-openai takes no API key in its settings: put the key in the environment "
                             "variable named by api_key_env (default OPENAI_API_KEY), so it never reaches "
                             "the knowledge base")
        return data

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.username is not None or parts.password is not None:
            raise ValueError("base_url may not hold credentials (user:password@host): put the key in the "
                             "environment variable named by api_key_env, so it is never stored")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL such as http://localhost:8000/v1, "
                             f"got {value!r}")
        return value.strip().rstrip("/")

    @field_validator("user_prompt", "system_prompt")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"prompt template {value!r} is not a valid format string: {exc}") from exc
        unknown = used - set(PROMPT_FIELDS)
        if unknown:
            raise ValueError(f"prompt template uses unknown field(s) {sorted(unknown)}; "
                             f"known: {', '.join(PROMPT_FIELDS)}")
        return value

    @field_validator("aspects")
    @classmethod
    def _some_aspect(cls, value: list[str]) -> list[str]:
        value = [a.strip() for a in value if a.strip()]
        return value or ["its appearance"]

    @field_validator("extra_body")
    @classmethod
    def _no_clash(cls, value: dict[str, Any]) -> dict[str, Any]:
        owned = {"model", "messages", "seed", "n", "stream"} & set(value)
        if owned:
            raise ValueError(f"extra_body may not set {sorted(owned)}: the source sets them itself")
        return value

    @model_validator(mode="after")
    def _http_key_only_to_loopback(self) -> OpenAISettings:
        host = urlsplit(self.base_url).hostname or ""
        if self.allow_http_key and not is_loopback_host(host):
            raise ValueError("allow_http_key is only for a server on this machine (localhost, 127.0.0.1, ::1); "
                             "use https for any other host")
        if self.key_required() and not self.key_transport_safe():
            raise ValueError(insecure_key_message(host))
        return self

    def key_transport_safe(self) -> bool:
        """Whether the key may travel to base_url: https, or loopback http the user allowed."""
        parts = urlsplit(self.base_url)
        if parts.scheme == "https":
            return True
        return self.allow_http_key and is_loopback_host(parts.hostname or "")

    def key_required(self) -> bool:
        """Whether a missing key is an error: yes for remote servers, unless told otherwise."""
        if self.require_key is not None:
            return self.require_key
        return not is_local_host(urlsplit(self.base_url).hostname or "")


def insecure_key_message(host: str) -> str:
    return (f"llm-openai: refusing to send the API key over plain http to {host}: use an https base_url "
            "(for a server on this machine: allow_http_key=true; require_key=false for a server that needs "
            "no key)")


def is_loopback_host(host: str) -> bool:
    """This machine: ``localhost`` (and ``*.localhost``) or a loopback address."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_host(host: str) -> bool:
    """Loopback, private-network or ``*.local`` hosts: self-hosted servers that usually need no key."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified
