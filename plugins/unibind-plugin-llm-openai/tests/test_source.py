"""The source against a real HTTP server on loopback: normal, slow, failing, rate-limiting, malformed."""

from __future__ import annotations

import itertools
import time

import pytest

from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected
from unibind_plugin_llm_openai.errors import BudgetExhausted, ServiceError
from unibind_plugin_llm_openai.source import OpenAISource, api_seed

DOG = ClassRef(name="dog", class_id="n02084071")


def _take(source: OpenAISource, n: int, count: int, **kwargs) -> list:
    return list(itertools.islice(source.describe(DOG, n, **kwargs), count))


def _reasons(items: list) -> list[str | None]:
    return [i.reason if isinstance(i, Rejected) else None for i in items]


def test_json_replies_become_drafts_with_provenance(server, settings, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test-123")
    with OpenAISource(settings(api_key_env="FAKE_KEY", descriptions_per_request=4, allow_http_key=True)) as source:
        items = _take(source, 8, 8, seed=3)
    assert len(items) == 8 and all(isinstance(i, DescriptionDraft) for i in items)
    assert all("dog" in i.text.lower() for i in items)
    assert items[0].meta == {"request": 0, "api_seed": api_seed(3, 0)} and items[4].meta["request"] == 1
    assert items[0].model == "fake" and "Write 4 different" in items[0].prompt
    by_seed = {r["body"]["seed"]: r for r in server.chat_requests}  # concurrent: any arrival order
    first = by_seed[api_seed(3, 0)]
    assert first["headers"]["Authorization"] == "Bearer sk-test-123"
    body = first["body"]
    assert body["model"] == "fake" and body["response_format"] == {"type": "json_object"}
    assert body["max_tokens"] == 800
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "JSON" in body["messages"][1]["content"]  # json_object mode needs the word in the prompt
    # Requests cycle through the aspects, so even a greedy model is asked different things.
    assert body["messages"][1]["content"] != by_seed[api_seed(3, 1)]["body"]["messages"][1]["content"]


def test_no_key_header_when_the_local_server_needs_none(server, settings, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with OpenAISource(settings()) as source:
        assert _take(source, 5, 1)
    assert "Authorization" not in server.chat_requests[0]["headers"]


def test_plain_text_mode_and_fallbacks(server, settings) -> None:
    with OpenAISource(settings(json_mode=False, descriptions_per_request=3)) as source:
        items = _take(source, 3, 3)
    assert "response_format" not in server.chat_requests[0]["body"]
    assert all(isinstance(i, DescriptionDraft) for i in items)
    assert not any(i.text[0].isdigit() for i in items)  # the numbering is gone
    server.script.extend(["text", "fenced"])  # JSON asked for, lines / a code fence returned
    with OpenAISource(settings(descriptions_per_request=3)) as source:
        items = _take(source, 6, 6)
    assert _reasons(items) == [None] * 6


def test_slow_reply_times_out_then_succeeds(server, settings) -> None:
    server.script.append("slow:1.5")
    start = time.monotonic()
    with OpenAISource(settings(timeout=0.3, descriptions_per_request=2)) as source:
        items = _take(source, 2, 2)
    elapsed = time.monotonic() - start
    assert _reasons(items) == [None, None]
    assert len(server.chat_requests) == 2
    assert elapsed < 1.2, f"the client waited {elapsed:.2f} s for a reply it should have given up on"


def test_server_error_is_retried(server, settings) -> None:
    server.script.extend(["error:500", "error:503"])
    with OpenAISource(settings(descriptions_per_request=2)) as source:
        items = _take(source, 2, 2)
    assert _reasons(items) == [None, None] and len(server.chat_requests) == 3


def test_rate_limit_retry_after_is_respected(server, settings) -> None:
    server.script.append("error:429:0.4")
    start = time.monotonic()
    with OpenAISource(settings(descriptions_per_request=2)) as source:
        items = _take(source, 2, 2)
    assert _reasons(items) == [None, None] and len(server.chat_requests) == 2
    assert time.monotonic() - start >= 0.4  # back-off alone would have waited milliseconds


def test_persistent_failure_gives_a_clear_error_after_max_retries(server, settings) -> None:
    server.default = "error:502"
    with OpenAISource(settings(max_retries=2)) as source, \
            pytest.raises(ServiceError, match=r"HTTP 502: simulated failure 502; gave up after 3 attempt"):
        _take(source, 5, 5)
    assert len(server.chat_requests) == 3


def test_unreachable_server_names_the_url(settings) -> None:
    with OpenAISource(settings(base_url="http://127.0.0.1:9/v1", max_retries=1)) as source, \
            pytest.raises(ServiceError, match=r"127.0.0.1:9/v1/chat/completions: cannot reach the server"):
        _take(source, 5, 1)


def test_malformed_replies_are_rejected_and_the_stream_goes_on(server, settings) -> None:
    server.script.extend(["not_json", "no_choices", "ok"])
    with OpenAISource(settings(descriptions_per_request=2, max_concurrency=1)) as source:
        items = _take(source, 6, 6)
    assert _reasons(items) == ["malformed"] * 4 + [None, None]
    assert "not JSON" in items[0].detail and "no choices" in items[2].detail
    assert len(server.chat_requests) == 3  # malformed replies are not retried


def test_cut_refused_short_and_junk_replies(server, settings) -> None:
    server.script.extend(["cut", "refusal", "few", "junk"])
    with OpenAISource(settings(descriptions_per_request=4, max_concurrency=1)) as source:
        items = _take(source, 16, 16)
    assert _reasons(items[:4]) == [None, None, None, "missing"] and "max_tokens" in items[3].detail
    assert _reasons(items[4:8]) == ["refused"] * 4 and "can't help" in items[4].detail
    assert _reasons(items[8:12]) == [None, None, "missing", "missing"]
    assert _reasons(items[12:]) == ["off_class", "too_short", "not_english", None]


def test_wrong_key_fails_at_once(server, settings, monkeypatch) -> None:
    server.key = "sk-right"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with OpenAISource(settings(max_retries=4, allow_http_key=True)) as source, \
            pytest.raises(ServiceError, match=r"HTTP 401.*\$OPENAI_API_KEY.*Incorrect API key") as caught:
        _take(source, 5, 1)
    assert "sk-wrong" not in str(caught.value)
    assert len(server.chat_requests) == 1  # not retried


def test_bad_request_first_raises_later_is_rejected(server, settings) -> None:
    server.script.append("error:400")
    with OpenAISource(settings()) as source, pytest.raises(ServiceError, match="refused the first request"):
        _take(source, 5, 1)
    server.script.extend(["ok", "error:400", "ok"])
    with OpenAISource(settings(descriptions_per_request=1, max_concurrency=1)) as source:
        items = _take(source, 3, 3)
    assert _reasons(items) == [None, "http_error", None] and "HTTP 400" in items[1].detail


def test_concurrency_bound_holds_on_the_server(server, settings) -> None:
    server.delay = 0.1
    with OpenAISource(settings(descriptions_per_request=1, max_concurrency=3)) as source:
        items = _take(source, 12, 12)
    assert len(items) == 12
    assert server.max_in_flight <= 3
    assert server.max_in_flight >= 2, "requests were not sent concurrently"


def test_requests_are_sent_lazily(server, settings) -> None:
    with OpenAISource(settings(descriptions_per_request=5, max_concurrency=4)) as source:
        stream = source.describe(DOG, 5)
        next(stream)
        assert len(server.chat_requests) == 1  # 5 wanted, 5 per request: one request, not four
        stream.close()
        stream = source.describe(DOG, 100)
        next(stream)
        deadline = time.monotonic() + 5
        while len(server.chat_requests) < 1 + 4 and time.monotonic() < deadline:
            time.sleep(0.02)  # the window's other requests may still be on their way
        time.sleep(0.1)
        assert len(server.chat_requests) == 1 + 4  # a window of max_concurrency, not 20 requests
        stream.close()


def test_request_budget_is_enforced(server, settings) -> None:
    server.script.append("error:500")  # a retry spends the budget too
    with OpenAISource(settings(max_requests=4, descriptions_per_request=5, max_concurrency=1)) as source:
        stream = source.describe(DOG, 100)
        items = []
        with pytest.raises(BudgetExhausted, match="max_requests=4"):
            for item in stream:
                items.append(item)
        assert len(items) == 15 and source.client.budget.remaining == 0
        with pytest.raises(BudgetExhausted):
            _take(source, 5, 1)
    assert len(server.chat_requests) == 4


def test_rate_limit_spaces_requests(server, settings) -> None:
    start = time.monotonic()
    paced = settings(requests_per_minute=600, descriptions_per_request=1, max_concurrency=4)
    with OpenAISource(paced) as source:
        _take(source, 4, 4)
    assert time.monotonic() - start >= 0.3  # 4 starts, 0.1 s apart


def test_start_resumes_without_replaying_earlier_requests(server, settings) -> None:
    with OpenAISource(settings(descriptions_per_request=3, max_concurrency=1)) as source:
        full = _take(source, 9, 9, seed=5)
        server.requests.clear()
        resumed = _take(source, 9, 5, seed=5, start=4)
    assert resumed == full[4:]
    assert [r["body"]["seed"] for r in server.chat_requests] == [api_seed(5, 1), api_seed(5, 2)]


def test_modality_changes_the_prompt(server, settings) -> None:
    with OpenAISource(settings(descriptions_per_request=1)) as source:
        item = _take(source, 1, 1, modality="audio")[0]
    assert item.modality == "audio" and "audio recordings" in item.prompt


def test_models_lists_the_servers_models(server, settings) -> None:
    with OpenAISource(settings()) as source:
        assert source.client.models() == ["fake"]
    assert server.requests[-1]["path"] == "/v1/models"


def test_extra_body_and_token_field_reach_the_server(server, settings) -> None:
    chosen = settings(extra_body={"top_p": 0.9}, max_tokens_field="max_completion_tokens", max_tokens=300,
                      temperature=0.7)
    with OpenAISource(chosen) as source:
        _take(source, 5, 1)
    body = server.chat_requests[0]["body"]
    assert body["top_p"] == 0.9 and body["max_completion_tokens"] == 300 and "max_tokens" not in body
    assert body["temperature"] == 0.7
