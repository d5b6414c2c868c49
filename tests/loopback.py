"""A scripted HTTP server on 127.0.0.1 for hostile and crash tests: each path runs a script
that may misbehave at the socket level (trickle, never end, reset, stall), which a WSGI test
server cannot do. One thread per connection, so that a stalled response holds up no other."""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Script = Callable[["Handler", threading.Event], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.hits[path] += 1
        script = self.server.scripts.get(path)
        try:
            if script is None:
                self.respond(b"not found", status=404, content_type="text/plain")
            else:
                script(self, self.server.stopping)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up: what these scripts provoke

    def respond(
        self, body: bytes, *, status: int = 200, content_type: str = "application/rss+xml", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def start(self, *, status: int = 200, content_type: str = "application/rss+xml", **headers: str) -> None:
        """Status line and headers only; the script writes (or withholds) the body."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.flush()

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a crashed peer would."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    scripts: dict[str, Script]
    hits: Counter[str]
    stopping: threading.Event

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a reset connection is the point of some scripts, not news


class ScriptedServer:
    def __init__(self, server: _Server) -> None:
        self._server = server

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def hits(self) -> Counter[str]:
        return self._server.hits

    def script(self, path: str, script: Script) -> str:
        self._server.scripts[path] = script
        return self.base + path

    def doc(
        self, path: str, body: bytes | str, content_type: str = "application/rss+xml", status: int = 200, **headers: str
    ) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body

        def respond(h: Handler, _stop: threading.Event) -> None:
            h.respond(data, status=status, content_type=content_type, **headers)

        return self.script(path, respond)


@contextmanager
def scripted_server(host: str = "127.0.0.1") -> Iterator[ScriptedServer]:
    server = _Server((host, 0), Handler)
    server.scripts, server.hits, server.stopping = {}, Counter(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield ScriptedServer(server)
    finally:
        server.stopping.set()  # scripts that stall or trickle end at once
        server.shutdown()
        server.server_close()
        thread.join()


def rss(*items: str, title: str = "Feed") -> str:
    """An RSS 2.0 document of the given `<item>` bodies."""
    body = "".join(f"<item>{item}</item>" for item in items)
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
    return f"{head}<channel><title>{title}</title>{body}</channel></rss>"


def item(n: int | str, title: str | None = None, *, host: str = "news.example", date: str | None = None) -> str:
    """An `<item>` body with a guid, link, title and description."""
    when = f"<pubDate>{date}</pubDate>" if date else "<pubDate>Tue, 15 Jul 2025 10:00:00 GMT</pubDate>"
    return (
        f"<title>{title or f'Story {n}'}</title><link>http://{host}/story/{n}</link>"
        f"<guid>{host}-{n}</guid>{when}<description>Summary of story {n}.</description>"
    )
