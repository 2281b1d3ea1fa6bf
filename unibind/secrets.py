"""Secrets stay in the process: values registered here are masked wherever UniBind writes text.

A plugin that reads a credential (an API key from the environment) registers it
with :func:`register_secret`; :func:`redact` then masks it in error messages,
knowledge-base rows and command-line output, even when a server echoes it
back. Credentials written into URLs (``https://user:secret@host``) and bearer
tokens are masked whether registered or not.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"
#: Setting names whose values are credentials, whatever they hold.
SECRET_NAMES = frozenset({"api_key", "apikey", "key", "token", "password", "secret", "authorization"})
#: Shorter values are not masked: too likely to occur in ordinary text.
MIN_LENGTH = 6

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]+@")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+")
_ASSIGNED = re.compile(r"(?i)\b(api[_-]?key|token|password|secret)(['\"]?\s*[=:]\s*['\"]?)[^\s'\",;}]+")
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every later :func:`redact` of this process."""
    if value and len(value.strip()) >= MIN_LENGTH:
        with _lock:
            _secrets.add(value.strip())


def redact(text: Any) -> Any:
    """``text`` with registered secrets, URL credentials and bearer tokens masked (non-strings as given)."""
    if not isinstance(text, str) or not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def redact_data(value: Any) -> Any:
    """A copy of JSON-like ``value`` with every string redacted and credential-named fields masked."""
    if isinstance(value, dict):
        return {k: MASK if isinstance(k, str) and k.lower() in SECRET_NAMES and v else redact_data(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return redact(value)


def install_log_redaction() -> None:
    """Redact every log record of this process as it is made (the command line installs it once).

    A record factory rather than a handler filter: it covers every logger and handler,
    including those of libraries (httpx, transformers) and ones added later.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "unibind_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's to report, not ours
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    factory.unibind_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
