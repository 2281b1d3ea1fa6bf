"""One chat-completions request, made robustly: retries, back-off, Retry-After, budget, pacing.

:meth:`ChatClient.complete` returns a :class:`~unibind_plugin_llm_openai.parsing.ChatReply`,
or a :class:`RequestFailed` for a failure that concerns only that request (the source
turns it into rejected items), and raises :class:`ServiceError` for what makes every
further request pointless: a refused key, an unknown URL or model, a server still
failing after ``max_retries``, the request budget used up.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from unibind.secrets import redact, register_secret
from unibind_plugin_llm_openai.errors import InsecureKeyError, MissingKeyError, ServiceError
from unibind_plugin_llm_openai.parsing import ChatReply, MalformedResponse, error_message, parse_completion
from unibind_plugin_llm_openai.settings import OpenAISettings, insecure_key_message
from unibind_plugin_llm_openai.traffic import Pacer, RequestBudget, backoff_delay, parse_retry_after

#: Worth trying again: timeout, conflict, too early, rate limited, and every 5xx.
RETRYABLE = frozenset({408, 409, 425, 429})


@dataclass(frozen=True)
class RequestFailed:
    """A request the server answered but that yields no text; ``reason`` is a Rejected code."""

    reason: str  # "http_error" or "malformed"
    detail: str


def api_key(settings: OpenAISettings) -> str | None:
    """The key from the environment, if it may be sent; registered as a secret so no message shows it.

    :class:`MissingKeyError` when a remote server needs one and there is none;
    :class:`InsecureKeyError` when one is needed but base_url is plain http (only
    loopback with ``allow_http_key=true`` may have it in clear). A server that needs
    no key gets none over plain http, even when the variable is set.
    """
    key = os.environ.get(settings.api_key_env, "").strip() or None
    register_secret(key)
    if not settings.key_transport_safe():
        if settings.key_required():
            raise InsecureKeyError(insecure_key_message(urlsplit(settings.base_url).hostname or ""))
        return None
    if key is None and settings.key_required():
        raise MissingKeyError(
            f"llm-openai: no API key for {settings.base_url}: set the environment variable "
            f"{settings.api_key_env} (or name another one with api_key_env; require_key=false for a "
            "server that needs none)")
    return key


class ChatClient:
    """A pooled HTTP client for one server, safe to share between worker threads."""

    def __init__(self, settings: OpenAISettings, key: str | None = None):
        self.settings = settings
        self.sends_key = bool(key)
        headers = {"Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(max_connections=settings.max_concurrency,
                              max_keepalive_connections=settings.max_concurrency)
        self._http = httpx.Client(base_url=settings.base_url, headers=headers, limits=limits,
                                  timeout=httpx.Timeout(settings.timeout))
        self.budget = RequestBudget(settings.max_requests)
        self.pacer = Pacer(settings.requests_per_minute)
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def models(self) -> list[str]:
        """Model ids the server lists at ``GET /models`` (a cheap check of URL and key)."""
        response = self._send("GET", "models")
        if isinstance(response, RequestFailed):
            raise ServiceError(f"{self.settings.base_url}/models: {response.detail}")
        try:
            data = response.json()["data"]
            return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(f"{self.settings.base_url}/models: not a model list: "
                               f"{error_message(response.content)}") from exc

    def complete(self, body: dict[str, Any]) -> ChatReply | RequestFailed:
        """POST one chat completion; see the module docstring for what comes back."""
        response = self._send("POST", "chat/completions", json=body)
        if isinstance(response, RequestFailed):
            return response
        try:
            return parse_completion(response.content)
        except MalformedResponse as exc:
            return RequestFailed("malformed", redact(str(exc)))

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response | RequestFailed:
        s = self.settings
        url = f"{s.base_url}/{path}"
        for attempt in range(s.max_retries + 1):
            self.pacer.wait()
            self.budget.spend()
            retry_after = None
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                problem = f"no complete reply within timeout={s.timeout:g} s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                problem = f"cannot reach the server: {type(exc).__name__}: {redact(str(exc))}"
            else:
                status = response.status_code
                if status < 300:
                    return response
                message = redact(error_message(response.content))
                if status in (401, 403):
                    sent = f"key from ${s.api_key_env}" if self.sends_key else (
                        "no key sent" + (" over plain http" if not s.key_transport_safe() else ""))
                    raise ServiceError(f"{url}: HTTP {status}, the server refused the credentials "
                                       f"({sent}): {message}")
                if status == 404:
                    raise ServiceError(f"{url}: HTTP 404, check base_url (it usually ends in /v1) and "
                                       f"model={s.model!r}: {message}")
                if status not in RETRYABLE and status < 500:
                    return RequestFailed("http_error", f"HTTP {status}: {message}")
                problem = f"HTTP {status}: {message}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt == s.max_retries:
                raise ServiceError(f"{url}: {problem}; gave up after {attempt + 1} attempt(s) "
                                   f"(max_retries={s.max_retries})")
            self._pause(attempt, retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        s = self.settings
        if retry_after is not None:
            delay = min(retry_after, s.retry_after_max)
            self.pacer.hold(delay)  # the other workers wait too: the limit is the server's, not ours
        else:
            with self._rng_lock:
                delay = backoff_delay(attempt, s.backoff_base, s.backoff_max, self._rng)
        time.sleep(delay)
