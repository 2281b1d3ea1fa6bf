"""Keeping traffic polite: a request budget, a pacer shared by all workers, back-off with full jitter.

All three are shared by the worker threads of one source instance, hence the locks.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from unibind_plugin_llm_openai.errors import BudgetExhausted


class RequestBudget:
    """Counts HTTP attempts; the one past ``limit`` raises :class:`BudgetExhausted` instead of being sent."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    def spend(self) -> None:
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                raise BudgetExhausted(
                    f"llm-openai: the request budget is used up ({self.used} of max_requests={self.limit}); "
                    "what was generated before is kept, and a rerun with a bigger budget resumes the build")
            self.used += 1


class Pacer:
    """Spaces request starts to ``requests_per_minute`` and holds everyone back after a Retry-After."""

    def __init__(self, requests_per_minute: float | None = None):
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller may start a request (its slot is reserved on return)."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)

    def hold(self, seconds: float) -> None:
        """No request starts for ``seconds`` (the server said so)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full jitter (AWS architecture blog): uniform(0, min(cap, base * 2**attempt)); attempt counts from 0."""
    return (rng or random).uniform(0.0, min(cap, base * (2 ** attempt)))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (fractions too) or an HTTP date; else None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
