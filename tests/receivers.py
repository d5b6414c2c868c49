"""Real receivers of Apprise's messages on 127.0.0.1: an HTTP server that takes the posts of
`json://`, `form://` and `ntfy://` URLs (one path each) and records what arrived, and can be told
to fail a path a number of times or to hold a request (for the kill -9 test)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Post:
    """One request as it arrived: path, query, headers, body; and whether it was accepted."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    accepted: bool

    @property
    def title(self) -> str:
        """The message's title, wherever its service puts it (JSON, form field, ntfy header or query)."""
        fields = self.fields()
        return str(fields.get("title") or self.headers.get("X-Title") or self.query.get("title", [""])[0])

    @property
    def message(self) -> str:
        fields = self.fields()
        if "message" in fields:
            return str(fields["message"])
        return self.query.get("message", [""])[0] or self.body.decode("utf-8", "replace")

    def fields(self) -> dict[str, Any]:
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/json"):
            return dict(json.loads(self.body))
        if kind.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {kind}\r\n\r\n".encode() + self.body)
            out: dict[str, Any] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if part.get_filename():
                    out.setdefault("files", []).append((part.get_filename(), part.get_payload(decode=True)))
                else:
                    out[str(name)] = part.get_payload(decode=True).decode("utf-8")
            return out
        if kind.startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}
        return {}


@dataclass
class Inbox:
    posts: list[Post] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # path -> failures (500) still to give
    hold: dict[str, threading.Event] = field(default_factory=dict)  # path -> released when set
    arrived: threading.Event = field(default_factory=threading.Event)

    def accepted(self, path: str) -> list[Post]:
        return [p for p in self.posts if p.path == path and p.accepted]

    def at(self, path: str) -> list[Post]:
        return [p for p in self.posts if p.path == path]

    def wait(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        inbox = self.server.inbox
        post = Post(parts.path, parse_qs(parts.query), dict(self.headers.items()), body, True)
        if post.path == "/" and "topic" in post.fields():  # ntfy posts JSON to the root, naming the topic
            post.path = "/" + str(post.fields()["topic"])
        failing = inbox.fail.get(post.path, 0) > 0
        post.accepted = not failing
        if failing:
            inbox.fail[post.path] -= 1
        inbox.posts.append(post)
        inbox.arrived.set()
        if (held := inbox.hold.get(post.path)) is not None:
            held.wait(30)
        status = 500 if failing else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    inbox: Inbox


@contextmanager
def receiver() -> Iterator[tuple[Inbox, int]]:
    """A receiver on a free loopback port: (what arrived, the port)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.inbox = Inbox()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.inbox, int(server.server_address[1])
    finally:
        for event in server.inbox.hold.values():
            event.set()
        server.shutdown()
        server.server_close()
