"""The ``llm-openai`` description source: class descriptions from any OpenAI-compatible chat server.

The stream for (class, seed) is a sequence of requests; request ``i`` asks for
``descriptions_per_request = k`` descriptions about ``aspects[i % len]`` with the
API seed derived from (seed, i), and contributes exactly ``k`` items (drafts, or
rejections saying why). Item ``p`` therefore belongs to request ``p // k``, which
is how ``start`` is honoured without replaying earlier requests: on a server that
is deterministic for a seed (vLLM, llama.cpp, Ollama) a resumed build continues
the same stream; elsewhere the store's deduplication keeps it free of repeats.

Requests are sent lazily as the builder pulls, with up to ``max_concurrency`` in
flight (fewer when fewer descriptions are still wanted).
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from unibind.knowledge.filters import DescriptionFilter
from unibind.knowledge.records import ClassRef, DescriptionDraft, Rejected
from unibind_plugin_llm_openai.client import ChatClient, RequestFailed, api_key
from unibind_plugin_llm_openai.errors import ServiceError
from unibind_plugin_llm_openai.parsing import ChatReply, extract_descriptions
from unibind_plugin_llm_openai.settings import JSON_INSTRUCTION, TEXT_INSTRUCTION, OpenAISettings

Item = DescriptionDraft | Rejected

#: How the prompt's ``{modality}`` reads for the modalities UniBind knows; others: "as it appears in X data".
MODALITY_PHRASES = {
    "image": "as it appears in photographs",
    "audio": "as it sounds in audio recordings",
    "video": "as it looks and moves in video clips",
    "thermal": "as it appears in thermal (infrared) images",
    "pointcloud": "as its 3D shape appears in point clouds",
    "event": "as it appears to an event camera",
    "depth": "as its shape appears in depth maps",
    "text": "as people write about it",
}


def api_seed(seed: int, index: int) -> int:
    """The seed sent with request ``index``: stable, and different for every (seed, index)."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def modality_phrase(modality: str | None) -> str:
    return MODALITY_PHRASES.get(modality or "image", f"as it appears in {modality} data")


class OpenAISource:
    """Asks an OpenAI-compatible server for descriptions of a class, in as many requests as it takes."""

    def __init__(self, settings: OpenAISettings | None = None):
        self.settings = settings or OpenAISettings()
        s = self.settings
        self.model = s.model
        self.prompt = f"{s.system_prompt}\n\n{s.user_prompt}".strip()
        self.client = ChatClient(s, api_key(s))
        self._pool = ThreadPoolExecutor(max_workers=s.max_concurrency, thread_name_prefix="llm-openai")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def __enter__(self) -> OpenAISource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request ----------------------------------------------------------------------
    def _fields(self, cls: ClassRef, index: int, modality: str | None) -> dict[str, Any]:
        s = self.settings
        return {"name": cls.text_name, "n": s.descriptions_per_request,
                "aspect": s.aspects[index % len(s.aspects)], "modality": modality_phrase(modality),
                "class_id": cls.class_id or ""}

    def user_message(self, cls: ClassRef, index: int, modality: str | None = None) -> str:
        """The user prompt of request ``index``, with the reply format appended (JSON mode needs it asked)."""
        s = self.settings
        text = s.user_prompt.format(**self._fields(cls, index, modality))
        instruction = JSON_INSTRUCTION if s.json_mode else TEXT_INSTRUCTION
        instruction = instruction.format(n=s.descriptions_per_request)
        return f"{text.strip()} {instruction}"

    def request_body(self, cls: ClassRef, index: int, *, seed: int = 0,
                     modality: str | None = None) -> dict[str, Any]:
        """The JSON body of request ``index`` of the stream for (cls, seed, modality)."""
        s = self.settings
        messages = [{"role": "user", "content": self.user_message(cls, index, modality)}]
        if s.system_prompt.strip():
            system = s.system_prompt.format(**self._fields(cls, index, modality))
            messages.insert(0, {"role": "system", "content": system})
        body: dict[str, Any] = {"model": s.model, "messages": messages, "temperature": s.temperature,
                                s.max_tokens_field: s.max_tokens, "seed": api_seed(seed, index)}
        if s.json_mode:
            body["response_format"] = {"type": "json_object"}
        body.update(s.extra_body)
        return body

    def reply_items(self, cls: ClassRef, outcome: ChatReply | RequestFailed, **draft: Any) -> list[Item]:
        """Exactly ``descriptions_per_request`` items for one request's outcome."""
        k = self.settings.descriptions_per_request
        if isinstance(outcome, RequestFailed):
            return [Rejected(reason=outcome.reason, detail=outcome.detail) for _ in range(k)]
        if outcome.refusal or outcome.finish_reason == "content_filter":
            detail = outcome.refusal or "finish_reason content_filter"
            return [Rejected(reason="refused", detail=detail[:300]) for _ in range(k)]
        if not outcome.content.strip():
            return [Rejected(reason="empty", detail="the reply had no text") for _ in range(k)]
        found = extract_descriptions(outcome.content)
        check = DescriptionFilter(cls, self.settings.filter)
        finished = outcome.finish_reason != "length"
        items: list[Item] = []
        for j, text in enumerate(found.texts[:k]):
            if text is None:
                items.append(Rejected(reason="malformed", detail="a JSON item that is not a string"))
                continue
            complete = finished or found.structured or j < len(found.texts) - 1
            items.append(check.check(text, finished=complete, model=outcome.model or self.model, **draft))
        detail = f"the reply held {len(found.texts)} of {k} descriptions" + (
            " (cut off at max_tokens)" if not finished else "")
        items.extend(Rejected(reason="missing", detail=detail) for _ in range(k - len(items)))
        return items

    # -- the stream -------------------------------------------------------------------------
    def describe(self, cls: ClassRef, n: int, *, modality: str | None = None, seed: int = 0,
                 start: int = 0) -> Iterator[Item]:
        """Items of the stream for (cls, seed, modality) from ``start``; see the module docstring."""
        s = self.settings
        k = s.descriptions_per_request
        first, skip = divmod(start, k)
        stop = first + math.ceil(s.max_request_factor * math.ceil(max(n, 1) / k))
        pending: deque[tuple[int, Future]] = deque()
        index, drafts = first, 0
        try:
            while True:
                wanted = min(s.max_concurrency, max(1, math.ceil((n - drafts) / k)))
                while index < stop and len(pending) < wanted:
                    body = self.request_body(cls, index, seed=seed, modality=modality)
                    pending.append((index, self._pool.submit(self.client.complete, body)))
                    index += 1
                if not pending:
                    return
                i, future = pending.popleft()
                outcome = future.result()
                if i == first and isinstance(outcome, RequestFailed) and outcome.reason == "http_error":
                    raise ServiceError(f"{s.base_url}/chat/completions refused the first request for "
                                       f"{cls.name!r} ({outcome.detail}); check model and settings")
                prompt = self.user_message(cls, i, modality)
                meta = {"request": i, "api_seed": api_seed(seed, i)}
                items = self.reply_items(cls, outcome, prompt=prompt, modality=modality, meta=meta)
                for item in items[skip:]:
                    drafts += isinstance(item, DescriptionDraft)
                    yield item
                skip = 0
        finally:
            for _, future in pending:
                future.cancel()
