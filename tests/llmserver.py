"""An OpenAI-compatible chat-completions server on loopback, in the manner of one server family
(tests/data/llm/<family>.json: the request fields it takes, its response formats, a response
as it returns one). It checks each request as that family would: the path, JSON, a model, a
list of messages with roles and text, no field it does not know, a response format it supports,
and the bearer key where it wants one: a request off the API gets a 400, as from the real thing.

What it answers is scripted: `reply` (a function of the parsed request) gives the answer's
content, or a `Reply` with a status, headers, a delay or a raw body (garbage, a 429, a 500, a
hang). Every request is kept (`requests`), with its headers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAMILIES = ("openai", "ollama", "llamacpp")
DATA = Path(__file__).parent / "data" / "llm"


def family(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


@dataclass
class Reply:
    """A scripted answer: `content` (the model's text) in the family's response, or `body` as
    is; `status`, `headers` and `delay` (seconds before answering) as given."""

    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


Responder = Callable[[dict[str, Any]], "Reply | str"]


def verdict(relation: str, quote: str = "", reason: str = "because", confidence: float = 0.9) -> str:
    return json.dumps({"relation": relation, "quote": quote, "reason": reason, "confidence": confidence})


def claim_of(body: dict[str, Any]) -> str:
    """The claim's text in a verifier's request."""
    user = body["messages"][-1]["content"]
    found = re.search(r"Claim \(from an article dated [^)]*\):\n(.*?)\n\n", user, re.DOTALL)
    return found.group(1) if found else ""


def text_of(body: dict[str, Any]) -> str:
    """The item's text as sent (after `Text: `)."""
    user = body["messages"][-1]["content"]
    found = re.search(r"\nText: (.*?)\n\nWhat does", user, re.DOTALL)
    return found.group(1) if found else ""


def first_sentence(body: dict[str, Any]) -> str:
    text = text_of(body).lstrip("… ")
    return re.split(r"(?<=[.!?。！？])\s*", text, maxsplit=1)[0]


class ChatServer:
    def __init__(
        self, family_name: str = "openai", *, key: str | None = None, model: str | None = None, port: int = 0
    ) -> None:
        self.family = family(family_name)
        self.key = key
        self.model = model
        self.requests: list[Seen] = []
        self.refused: list[str] = []  # why requests were refused (off the API)
        self.reply: Responder = lambda body: verdict("none")
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def calls(self) -> int:
        return len(self.requests)

    def start(self) -> ChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def check(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[dict[str, Any] | None, str]:
        """The request as the family would take it, or why it would refuse it."""
        if path != self.family["path"]:
            return None, f"no such endpoint {path}"
        if "application/json" not in headers.get("content-type", ""):
            return None, "the body is not declared JSON"
        bearer = self.key is not None and self.family["auth"] == "bearer"
        if bearer and headers.get("authorization") != f"Bearer {self.key}":
            return None, "401"
        try:
            body = json.loads(raw)
        except ValueError:
            return None, "the body is not JSON"
        unknown = set(body) - set(self.family["request_fields"])
        if unknown:
            return None, f"fields this server does not take: {sorted(unknown)}"
        if not isinstance(body.get("model"), str) or not body["model"]:
            return None, "no model"
        if self.model is not None and body["model"] != self.model:
            return None, f"model {body['model']!r} not found"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return None, "no messages"
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
                return None, f"a message without a known role: {m!r}"
            if not isinstance(m.get("content"), str):
                return None, "a message without text content"
        form = body.get("response_format")
        if form is not None:
            if form.get("type") not in self.family["response_formats"]:
                return None, f"response_format {form.get('type')!r} not supported"
            if form["type"] == "json_schema" and not isinstance(form.get("json_schema", {}).get("schema"), dict):
                return None, "json_schema without a schema"
        return body, ""

    def _respond(self, body: dict[str, Any]) -> Reply:
        answer = self.reply(body)
        return Reply(content=answer) if isinstance(answer, str) else answer

    def _document(self, content: str) -> bytes:
        doc = json.loads(json.dumps(self.family["response"]))
        doc["choices"][0]["message"]["content"] = content
        return json.dumps(doc).encode("utf-8")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                body, why = server.check(self.path, headers, raw)
                if body is None:
                    with server._lock:
                        server.refused.append(why)
                    status = 401 if why == "401" else 404 if why.startswith("no such") else 400
                    self._send(status, json.dumps({"error": {"message": why}}).encode(), {})
                    return
                with server._lock:
                    server.requests.append(Seen(self.path, headers, body))
                reply = server._respond(body)
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body if reply.body is not None else server._document(reply.content or "")
                self._send(reply.status, data, reply.headers)

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): nothing to tell it

        return Handler


@contextmanager
def chat_server(family_name: str = "openai", **kwargs: Any) -> Iterator[ChatServer]:
    server = ChatServer(family_name, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
