"""A fast feed server on loopback for the benchmarks: a bare asyncio HTTP/1.1 server in its own
process, listening on several loopback addresses (one per generated host), keep-alive,
`ETag` / `If-None-Match` (a 304 for an unchanged feed) and gzip when the client accepts it.

Responses are prepared once (headers and body bytes), so serving costs next to nothing next to
the client; a threaded `http.server` would be the bottleneck at these rates.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bench.feeds import Feed


@dataclass(frozen=True)
class _Doc:
    etag: bytes
    plain: bytes
    gzipped: bytes
    not_modified: bytes


def _prepare(feed: Feed) -> _Doc:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: {feed.content_type}\r\netag: {feed.etag}\r\n"
    gz = feed.gzipped
    return _Doc(
        etag=feed.etag.encode(),
        plain=(head + f"content-length: {len(feed.body)}\r\n\r\n").encode() + feed.body,
        gzipped=(head + f"content-encoding: gzip\r\ncontent-length: {len(gz)}\r\n\r\n").encode() + gz,
        not_modified=f"HTTP/1.1 304 Not Modified\r\netag: {feed.etag}\r\ncontent-length: 0\r\n\r\n".encode(),
    )


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
BAD = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


class _Http(asyncio.Protocol):
    """GET only, no request bodies: what feed readers send."""

    def __init__(self, docs: dict[tuple[str, str], _Doc], host: str) -> None:
        self.docs, self.host = docs, host
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            self.transport.write(self._respond(head))
        if len(self.buffer) > 65536:
            self.transport.write(BAD)
            self.transport.close()

    def _respond(self, head: bytes) -> bytes:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or parts[0] != b"GET":
            return BAD
        doc = self.docs.get((self.host, parts[1].decode("latin-1")))
        if doc is None:
            return NOT_FOUND
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"if-none-match") == doc.etag:
            return doc.not_modified
        return doc.gzipped if b"gzip" in headers.get(b"accept-encoding", b"") else doc.plain


async def _serve(feeds: list[Feed], port: int, ready: Connection) -> None:
    docs = {(f.host, f.path): _prepare(f) for f in feeds}
    loop = asyncio.get_running_loop()
    servers = []
    for host in sorted({f.host for f in feeds}):
        servers.append(await loop.create_server(lambda h=host: _Http(docs, h), host, port, backlog=1024))  # type: ignore[misc]
    ready.send("ready")
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def _main(feeds: list[Feed], port: int, ready: Connection) -> None:
    asyncio.run(_serve(feeds, port, ready))


@contextlib.contextmanager
def serving(feeds: list[Feed], port: int) -> Iterator[None]:
    """Serve `feeds` on their hosts at `port` in a child process for the block."""
    ctx = mp.get_context("fork")
    here, there = ctx.Pipe()
    process = ctx.Process(target=_main, args=(feeds, port, there), daemon=True)
    process.start()
    if not here.poll(60):
        process.kill()
        raise RuntimeError("the bench feed server did not start")
    here.recv()
    try:
        yield
    finally:
        process.terminate()
        process.join(10)
