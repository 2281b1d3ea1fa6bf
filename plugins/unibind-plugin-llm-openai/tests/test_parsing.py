"""Reading replies: the protocol layer and the model's text (JSON, fenced, cut off, plain lines)."""

from __future__ import annotations

import json

import pytest

from unibind_plugin_llm_openai.parsing import (
    MalformedResponse,
    error_message,
    extract_descriptions,
    parse_completion,
)


def _completion(content, finish="stop", **message):
    return json.dumps({"model": "m-1", "choices": [{"finish_reason": finish,
                                                    "message": {"content": content, **message}}]})


def test_completion_fields_are_read() -> None:
    reply = parse_completion(_completion("hello", finish="length"))
    assert (reply.content, reply.finish_reason, reply.model) == ("hello", "length", "m-1")
    assert reply.refusal is None
    refused = parse_completion(_completion(None, refusal="no"))
    assert refused.content == "" and refused.refusal == "no"


@pytest.mark.parametrize(("body", "problem"), [
    (b"<html>oops</html>", "not JSON"),
    (b"[1, 2]", "not an object"),
    (b'{"choices": []}', "no choices"),
    (b'{"choices": [{"index": 0}]}', "no message"),
    (b'{"choices": [{"message": {"content": ["a"]}}]}', "not a string"),
])
def test_malformed_bodies_say_what_is_wrong(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedResponse, match=problem):
        parse_completion(body)


def test_json_object_list_and_other_key() -> None:
    assert extract_descriptions('{"descriptions": ["A dog.", "1. A cat."]}').texts == ["A dog.", "A cat."]
    assert extract_descriptions('["A dog.", 7]').texts == ["A dog.", None]
    assert extract_descriptions('{"items": ["A dog."], "count": 1}').texts == ["A dog."]
    wrong = extract_descriptions('{"a": [1], "b": [2]}')
    assert wrong.texts == [None] and wrong.structured


def test_fenced_json_is_unwrapped() -> None:
    found = extract_descriptions('```json\n{"descriptions": ["A dog runs."]}\n```')
    assert found.texts == ["A dog runs."] and found.structured


def test_json_cut_off_keeps_its_complete_strings() -> None:
    cut = '{"descriptions": ["A dog has \\"fur\\".", "A dog barks at night.", "A dog wi'
    found = extract_descriptions(cut)
    assert found.texts == ['A dog has "fur".', "A dog barks at night."] and found.structured


def test_plain_text_falls_back_to_lines() -> None:
    found = extract_descriptions("Here you go:\n1. A dog barks.\n- A dog runs.\n")
    assert found.texts == ["Here you go:", "A dog barks.", "A dog runs."] and not found.structured
    assert extract_descriptions("[1] A dog barks.").texts == ["[1] A dog barks."]


def test_error_message_prefers_the_servers_words() -> None:
    assert error_message(b'{"error": {"message": "Rate limit reached"}}') == "Rate limit reached"
    assert error_message(b'{"detail": "model not loaded"}') == "model not loaded"
    assert "Bad Gateway" in error_message(b"<h1>Bad Gateway</h1>")
