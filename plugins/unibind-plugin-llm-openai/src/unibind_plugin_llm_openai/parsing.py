"""Reading what a chat-completions server sends back.

Two layers: :func:`parse_completion` checks the protocol (a JSON body with
``choices[0].message``); :func:`extract_descriptions` reads the model's text,
JSON first (``{"descriptions": [...]}``, a bare list, or any object with one
list of strings), salvaging the complete strings of JSON cut off by the token
limit, and otherwise one candidate per line through the shared
:func:`~unibind.knowledge.filters.split_candidates`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from unibind.knowledge.filters import clean_candidate, split_candidates


@dataclass(frozen=True)
class ChatReply:
    """The part of a chat completion the source uses."""

    content: str
    finish_reason: str | None = None
    refusal: str | None = None
    model: str | None = None


class MalformedResponse(ValueError):
    """The body is not a chat completion (not JSON, no choices, no message)."""


@dataclass(frozen=True)
class Candidates:
    """What a reply's text held: candidate texts (None: an item that was not a string) and how it was read."""

    texts: list[str | None]
    structured: bool  # read as JSON (complete strings), not as lines of text


_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def parse_completion(body: bytes | str) -> ChatReply:
    """The first choice of a chat-completion body, or :class:`MalformedResponse` saying what is wrong."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedResponse(f"body is not JSON ({exc.msg if hasattr(exc, 'msg') else exc}): "
                                f"{_preview(body)}") from exc
    if not isinstance(data, dict):
        raise MalformedResponse(f"body is a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponse(f"no choices in the reply: {_preview(body)}")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise MalformedResponse("choices[0] has no message object")
    content, refusal = message.get("content"), message.get("refusal")
    if content is not None and not isinstance(content, str):
        raise MalformedResponse(f"message content is a {type(content).__name__}, not a string")
    model = data.get("model")
    return ChatReply(content=content or "", finish_reason=choices[0].get("finish_reason"),
                     refusal=refusal if isinstance(refusal, str) and refusal.strip() else None,
                     model=model if isinstance(model, str) and model else None)


def extract_descriptions(content: str) -> Candidates:
    """The candidate descriptions in a reply's text (see the module docstring for the forms read)."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if text[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            salvaged = _complete_strings(text)
            if salvaged:
                return Candidates([clean_candidate(s) for s in salvaged], structured=True)
        else:
            items = _description_list(data)
            if items is not None:
                return Candidates([clean_candidate(i) if isinstance(i, str) else None for i in items],
                                  structured=True)
            return Candidates([None], structured=True)
    return Candidates(list(split_candidates(text)), structured=False)


def _description_list(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("descriptions"), list):
            return data["descriptions"]
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    return None


def _complete_strings(text: str) -> list[str]:
    """Every complete JSON string literal that is not an object key (JSON cut off mid-way)."""
    out = []
    for match in _STRING.finditer(text):  # left to right, so a key's closing quote never opens a string
        if text[match.end():].lstrip().startswith(":"):
            continue
        try:
            out.append(json.loads(match.group()))
        except json.JSONDecodeError:
            continue
    return out


def error_message(body: bytes | str, limit: int = 300) -> str:
    """The server's own error message (OpenAI's ``{"error": {"message": ...}}``), else the body's start."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _preview(body, limit)
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:limit]
        if isinstance(error, str):
            return error[:limit]
        if isinstance(data.get("detail"), str):  # vLLM / FastAPI
            return data["detail"][:limit]
    return _preview(body, limit)


def _preview(body: bytes | str, limit: int = 120) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))
