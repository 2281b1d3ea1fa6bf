"""Traffic: Retry-After parsing, full-jitter back-off, the pacer shared by the workers."""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone

from unibind_plugin_llm_openai.traffic import Pacer, backoff_delay, parse_retry_after


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_full_jitter_stays_under_the_exponential_cap() -> None:
    rng = random.Random(0)
    delays = [backoff_delay(3, 0.5, 30.0, rng) for _ in range(500)]
    assert max(delays) <= 4.0 and min(delays) >= 0.0
    assert max(delays) > 3.0 and min(delays) < 1.0  # spread over the whole range: full jitter
    assert all(backoff_delay(20, 0.5, 2.0, rng) <= 2.0 for _ in range(100))


def test_pacer_spaces_starts_and_holds_after_retry_after() -> None:
    pacer = Pacer(requests_per_minute=1200)  # 0.05 s apart
    start = time.monotonic()
    for _ in range(4):
        pacer.wait()
    assert time.monotonic() - start >= 0.15
    held = Pacer()
    held.hold(0.2)  # what one worker does on a Retry-After: every other worker waits too
    start = time.monotonic()
    held.wait()
    assert time.monotonic() - start >= 0.19
