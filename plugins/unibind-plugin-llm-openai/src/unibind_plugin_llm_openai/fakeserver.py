"""A real HTTP server on loopback that speaks the chat-completions protocol, with misbehaviour on demand.

For tests (this plugin's, and anyone checking a build configuration offline): it
answers ``POST /v1/chat/completions`` and ``GET /v1/models`` over a socket, so the
client's timeouts, retries, connection pool and concurrency are exercised for real.
Its descriptions are simulated: sentences assembled from word lists, deterministic
for (class, request seed), naming the class found in the prompt.

``server.script`` holds behaviours for the next chat requests, one each, then
``server.default`` applies. A behaviour is a name with optional ``:`` arguments:

``ok``            JSON ``{"descriptions": [...]}`` when asked for JSON, numbered lines otherwise
``text``          numbered lines even when asked for JSON
``fenced``        the JSON inside a Markdown code fence
``few``           JSON with two descriptions fewer than asked
``junk``          JSON with texts the shared filter rejects (off-class, too short, not English)
``slow:S``        sleep S seconds, then ``ok``
``error:CODE[:RETRY_AFTER]``  that HTTP status with an OpenAI-style error body
``echo_key:CODE`` that HTTP status with an error body quoting the request's Authorization header
                  (a careless server leaking the key: nothing UniBind prints or stores may show it)
``not_json``      status 200 with an HTML body
``no_choices``    status 200, valid JSON, ``"choices": []``
``cut``           JSON cut off by the token limit (``finish_reason: "length"``)
``refusal``       ``message.refusal`` set, no content
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_LOOKS = ("a short coat", "a long tail", "bright eyes", "soft fur", "a narrow face", "large paws",
          "a dark nose", "pointed ears", "a spotted back", "a pale belly", "a sturdy body", "a curved back")
_PLACES = ("in a garden", "on a sofa", "near a fence", "in a park", "on a wooden floor", "beside a road",
           "in tall grass", "on a doorstep", "in the snow", "under a table", "at a farm", "by a river")
_ACTS = ("usually has", "often shows", "is seen with", "typically has", "can have", "is known for")


class FakeChatServer:
    """``with FakeChatServer(classes=("dog", "cat")) as server: ... server.base_url ...``"""

    def __init__(self, classes: tuple[str, ...] = ("dog", "cat"), *, model: str = "fake",
                 delay: float = 0.0, key: str | None = None, per_reply: int | None = None):
        self.classes = classes
        self.model = model
        self.delay = delay  # seconds added to every chat reply
        self.key = key  # when set, requests without "Bearer <key>" get 401
        self.per_reply = per_reply  # None: the first number in the user message
        self.script: deque[str] = deque()
        self.default = "ok"
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> FakeChatServer:
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                         name="fake-chat-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    # -- replies --------------------------------------------------------------------------
    def next_behaviour(self) -> str:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    def descriptions(self, body: dict[str, Any], count: int | None = None) -> list[str]:
        """Simulated descriptions of the class the prompt names, deterministic for the request's seed."""
        user = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"), "")
        name = max((c for c in self.classes if c.casefold() in user.casefold()), key=len, default="thing")
        if count is None:
            number = re.search(r"\b(\d+)\b", user)
            count = self.per_reply or (int(number.group(1)) if number else 3)
        rng = random.Random(f"{name}:{body.get('seed')}:{body.get('temperature')}")
        out = []
        for _ in range(count):
            look, place = rng.sample(_LOOKS, 2), rng.choice(_PLACES)
            out.append(f"The {name} {rng.choice(_ACTS)} {look[0]} and {look[1]}, and is often seen {place}.")
        return out

    def reply(self, behaviour: str, body: dict[str, Any],
              headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body bytes) for one chat request (``headers``: the request's)."""
        name, *args = behaviour.split(":")
        wants_json = (body.get("response_format") or {}).get("type") == "json_object"
        if name == "slow":
            time.sleep(float(args[0]))
            name = "ok"
        if name == "error":
            headers = {"Retry-After": args[1]} if len(args) > 1 else {}
            error = {"error": {"message": f"simulated failure {args[0]}", "type": "server_error"}}
            return int(args[0]), headers, json.dumps(error).encode()
        if name == "echo_key":
            auth = (headers or {}).get("Authorization", "no Authorization header")
            error = {"error": {"message": f"simulated failure, key {auth!r} rejected", "type": "server_error"}}
            return int(args[0]), {}, json.dumps(error).encode()
        if name == "not_json":
            return 200, {"Content-Type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>"
        if name == "no_choices":
            return 200, {}, json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode()
        texts = self.descriptions(body)
        finish, refusal = "stop", None
        if name == "ok":
            content = json.dumps({"descriptions": texts}) if wants_json else _numbered(texts)
        elif name == "text":
            content = _numbered(texts)
        elif name == "fenced":
            content = "```json\n" + json.dumps({"descriptions": texts}, indent=2) + "\n```"
        elif name == "few":
            content = json.dumps({"descriptions": texts[:-2]})
        elif name == "junk":
            junk = ["A teapot sits on a shelf in the kitchen.", "Small.",
                    "Der Hund schläft im Garten heute."]
            content = json.dumps({"descriptions": junk + texts[len(junk):]})
        elif name == "cut":
            content, finish = json.dumps({"descriptions": texts})[:-25], "length"
        elif name == "refusal":
            content, refusal = None, "I can't help with that."
        else:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        completion = {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 100, "total_tokens": 150},
        }
        return 200, {}, json.dumps(completion).encode()


def _numbered(texts: list[str]) -> str:
    return "\n".join(f"{i}. {t}" for i, t in enumerate(texts, 1))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the tests, not an error


def _handler_for(fake: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            headers = {"Content-Type": "application/json", **(headers or {})}
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _authorised(self) -> bool:
            if fake.key is None or self.headers.get("Authorization") == f"Bearer {fake.key}":
                return True
            self._send(401, json.dumps({"error": {"message": "Incorrect API key provided"}}).encode())
            return False

        def _admit(self, body: Any, route: str) -> bool:
            """Record the request; answer 401 (wrong key) or 404 (other route) and return False."""
            with fake._lock:
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if not self._authorised():
                return False
            if self.path.rstrip("/") != route:
                self._send(404, b'{"error": {"message": "no such route"}}')
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if not self._admit(None, "/v1/models"):
                return
            models = {"object": "list", "data": [{"id": fake.model, "object": "model", "owned_by": "fake"}]}
            self._send(200, json.dumps(models).encode())

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._send(400, b'{"error": {"message": "request body is not JSON"}}')
                return
            if not self._admit(body, "/v1/chat/completions"):
                return
            with fake._lock:
                fake.in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
            try:
                if fake.delay:
                    time.sleep(fake.delay)
                status, headers, payload = fake.reply(fake.next_behaviour(), body, dict(self.headers))
                self._send(status, payload, headers)
            finally:
                with fake._lock:
                    fake.in_flight -= 1

    return Handler
