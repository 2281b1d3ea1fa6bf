"""What the source raises when the service cannot be used (the builder records it on the job)."""

from __future__ import annotations

from unibind.errors import UniBindError


class ServiceError(UniBindError):
    """The server refused or kept failing: a wrong key, URL or model, or failures past max_retries."""


class BudgetExhausted(ServiceError):
    """The source instance has sent ``max_requests`` requests; what it produced so far is kept."""


class MissingKeyError(UniBindError, ValueError):
    """A remote server needs a key and the environment variable named by ``api_key_env`` is empty."""
