"""The HTTP edge against a real loopback server: limits, redirects, compression, headers."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.backoff import parse_retry_after
from monitor.collect.fetch import HttpxFetcher
from monitor.errors import BlockedURLError, FetchError
from monitor.settings import HttpSettings

SETTINGS = HttpSettings(timeout=2, deadline=3, max_bytes=4096, max_redirects=3, allow_private=True)


def fetch(url: str, settings: HttpSettings = SETTINGS, **kwargs: str) -> object:
    async def go() -> object:
        async with HttpxFetcher(settings) as fetcher:
            return await fetcher.fetch("s", url, **kwargs)

    return asyncio.run(go())


def test_sends_user_agent_and_validators(httpserver: HTTPServer) -> None:
    seen: dict[str, str] = {}

    def handler(request: Request) -> Response:
        seen.update(request.headers)
        return Response(status=304, headers={"ETag": '"v1"'})

    httpserver.expect_request("/f").respond_with_handler(handler)
    result = fetch(httpserver.url_for("/f"), etag='"v1"', last_modified="Tue, 15 Jul 2025 00:00:00 GMT")
    assert result.not_modified is True
    assert seen["User-Agent"].startswith("claim-monitor/")
    assert seen["If-None-Match"] == '"v1"'
    assert seen["If-Modified-Since"] == "Tue, 15 Jul 2025 00:00:00 GMT"
    assert "gzip" in seen["Accept-Encoding"]


def test_gzip_body_is_decompressed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/g").respond_with_data(gzip.compress(b"<rss/>"), headers={"Content-Encoding": "gzip"})
    assert fetch(httpserver.url_for("/g")).content == b"<rss/>"


@pytest.mark.parametrize(
    ("encoding", "packed"),
    [
        ("deflate", zlib.compress(b"<rss>deflate</rss>" * 2000)),  # zlib-wrapped, as RFC 9110 says
        ("deflate", zlib.compress(b"<rss>deflate</rss>" * 2000)[2:-4]),  # raw, as some servers send
        ("gzip", gzip.compress(b"<rss>deflate</rss>" * 2000)),
        ("identity", b"<rss>deflate</rss>" * 2000),
    ],
)
def test_each_content_encoding_is_undone_in_steps(httpserver: HTTPServer, encoding: str, packed: bytes) -> None:
    httpserver.expect_request("/e").respond_with_data(packed, headers={"Content-Encoding": encoding})
    roomy = SETTINGS.model_copy(update={"max_bytes": 100_000})
    assert fetch(httpserver.url_for("/e"), roomy).content == b"<rss>deflate</rss>" * 2000  # type: ignore[attr-defined]


def test_an_unknown_content_encoding_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/br").respond_with_data(b"\x1b\x00", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="unsupported content encoding 'br'"):
        fetch(httpserver.url_for("/br"))


def test_a_broken_gzip_body_is_a_clear_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/bad").respond_with_data(b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="cannot decode response body"):
        fetch(httpserver.url_for("/bad"))


def test_body_over_the_cap_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 10_000)
    with pytest.raises(FetchError, match="4096-byte cap"):
        fetch(httpserver.url_for("/big"))


def test_gzip_bomb_is_capped_on_decompressed_size(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    assert len(bomb) < 10_000
    with pytest.raises(FetchError, match="cap"):
        fetch(httpserver.url_for("/bomb"))


def test_redirects_are_followed_and_capped(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/r1").respond_with_response(Response(status=301, headers={"Location": "/r2"}))
    httpserver.expect_request("/r2").respond_with_response(Response(status=302, headers={"Location": "/final"}))
    httpserver.expect_request("/final").respond_with_data(b"done")
    result = fetch(httpserver.url_for("/r1"))
    assert result.content == b"done" and result.url.endswith("/final")
    httpserver.expect_request("/loop").respond_with_response(Response(status=302, headers={"Location": "/loop"}))
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch(httpserver.url_for("/loop"))


def test_redirect_to_another_scheme_is_blocked(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_response(
        Response(status=302, headers={"Location": "file:///etc/passwd"})
    )
    with pytest.raises(BlockedURLError, match="scheme 'file'"):
        fetch(httpserver.url_for("/x"))


def test_private_addresses_need_the_source_host_or_the_setting(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p").respond_with_data(b"ok")
    strict = HttpSettings(timeout=2, deadline=3)
    with pytest.raises(BlockedURLError, match="loopback"):
        fetch(httpserver.url_for("/p"), strict)
    assert fetch(httpserver.url_for("/p"), strict, source_host=httpserver.host).content == b"ok"
    httpserver.expect_request("/hop").respond_with_response(
        Response(status=302, headers={"Location": f"http://127.0.0.2:{httpserver.port}/p"})
    )
    with pytest.raises(BlockedURLError):
        fetch(httpserver.url_for("/hop"), strict, source_host=httpserver.host)


def test_http_errors_carry_status_and_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/busy").respond_with_data("slow down", status=429, headers={"Retry-After": "120"})
    with pytest.raises(FetchError) as caught:
        fetch(httpserver.url_for("/busy"))
    assert caught.value.status == 429 and caught.value.retry_after == 120.0
    assert "HTTP 429" in str(caught.value)


def test_a_trickling_server_is_cut_off_at_the_deadline(httpserver: HTTPServer) -> None:
    def trickle() -> object:
        for _ in range(100):
            time.sleep(0.2)
            yield b"x"

    httpserver.expect_request("/slow").respond_with_response(Response(trickle(), status=200))
    settings = HttpSettings(timeout=5, deadline=1.0, allow_private=True)
    began = time.monotonic()
    with pytest.raises(FetchError, match="within 1s"):
        fetch(httpserver.url_for("/slow"), settings)
    assert time.monotonic() - began < 4


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:02:00 GMT", now) == 120.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


class _KeepAlive(asyncio.Protocol):
    """A bare HTTP/1.1 server that keeps connections open: 304 to a request with the ETag, the
    feed otherwise; it counts the connections it was opened."""

    opened = 0
    BODY = b"<rss><channel><title>t</title></channel></rss>"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        type(self).opened += 1
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end].lower(), self.buffer[end + 4 :]
            if b'if-none-match: "v1"' in head:
                reply = b'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 0\r\n\r\n'
            else:
                reply = b'HTTP/1.1 200 OK\r\netag: "v1"\r\ncontent-length: %d\r\n\r\n%s' % (len(self.BODY), self.BODY)
            assert isinstance(self.transport, asyncio.Transport)
            self.transport.write(reply)


@pytest.mark.parametrize("etag", [None, '"v1"'], ids=["changed", "unchanged"])
def test_feeds_of_one_host_share_a_connection(etag: str | None) -> None:
    """Politeness and speed: the feeds of one host, changed (200) or not (304), are asked for on
    one kept-alive connection, not one connection each."""

    async def go() -> tuple[int, list[int]]:
        _KeepAlive.opened = 0
        server = await asyncio.get_running_loop().create_server(_KeepAlive, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with HttpxFetcher(SETTINGS) as fetcher:
                results = [
                    await fetcher.fetch("s", f"http://127.0.0.1:{port}/feed{n}.xml", **({"etag": etag} if etag else {}))
                    for n in range(5)
                ]
        finally:
            server.close()
        return _KeepAlive.opened, [r.status for r in results]

    opened, statuses = asyncio.run(go())
    assert statuses == [304 if etag else 200] * 5
    assert opened == 1
