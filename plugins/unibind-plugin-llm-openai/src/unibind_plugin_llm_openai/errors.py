"""What the source raises when the service cannot be used (the builder records it on the job)."""

from __future__ import annotations

from unibind.errors import UniBindError
from unibind.secrets import redact


class ServiceError(UniBindError):
    """The server refused or kept failing: a wrong key, URL or model, or failures past max_retries.

    The message is redacted: a server that echoes the key in its error body does not get it printed.
    """

    def __init__(self, message: str):
        super().__init__(redact(message))


class BudgetExhausted(ServiceError):
    """The source instance has sent ``max_requests`` requests; what it produced so far is kept."""


class MissingKeyError(UniBindError, ValueError):
    """A remote server needs a key and the environment variable named by ``api_key_env`` is empty."""


class InsecureKeyError(UniBindError, ValueError):
    """The key would travel in clear: plain http to a host that is not loopback, or loopback not allowed."""
