"""The URL gate holds where the connection is made: a name is resolved once, every address of
the answer is checked, and the connection goes to one of those addresses. A resolver that
answers a public address first and loopback after (DNS rebinding), or fails first and answers
loopback after, never gets the monitor to fetch from loopback. Real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from monitor.collect.fetch import HttpxFetcher
from monitor.errors import BlockedURLError, FetchError
from monitor.settings import HttpSettings

PUBLIC = "93.184.216.34"
real_getaddrinfo = socket.getaddrinfo


def _answers(host: str, first: Callable[[], str], later: str) -> Callable[..., Any]:
    """getaddrinfo that answers `host` with `first()` on the first lookup and `later` after."""
    calls = [0]

    def getaddrinfo(name: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if (name.decode() if isinstance(name, bytes) else name) != host:  # anyio asks in bytes
            return real_getaddrinfo(name, port, *args, **kwargs)
        calls[0] += 1
        address = first() if calls[0] == 1 else later
        return real_getaddrinfo(address, port, *args, **kwargs)

    return getaddrinfo


def _fail() -> str:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.fixture
def page(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/secret").respond_with_data("internal page", content_type="text/plain")
    return httpserver


def _fetch(url: str, source_host: str | None = None) -> Any:
    async def run() -> Any:
        async with HttpxFetcher(HttpSettings(timeout=2, deadline=5)) as fetcher:
            return await fetcher.fetch("s", url, source_host=source_host)

    return asyncio.run(run())


def test_a_name_that_rebinds_to_loopback_is_not_fetched(page: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _answers("rebind.test", lambda: PUBLIC, "127.0.0.1"))
    with pytest.raises(FetchError):  # the connection went to the public address it checked (blocked here)
        _fetch(f"http://rebind.test:{page.port}/secret")
    assert page.log == []


def test_a_failed_lookup_is_a_refusal_not_a_second_chance(page: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _answers("flaky.test", _fail, "127.0.0.1"))
    with pytest.raises(BlockedURLError, match=r"cannot resolve flaky\.test"):
        _fetch(f"http://flaky.test:{page.port}/secret")
    assert page.log == []


def test_a_name_resolving_to_loopback_is_refused_with_its_reason(page: HTTPServer) -> None:
    with pytest.raises(BlockedURLError, match="localhost resolves to loopback address"):
        _fetch(f"http://localhost:{page.port}/secret")
    assert page.log == []


def test_the_configured_host_still_connects_by_name(page: HTTPServer) -> None:
    result = _fetch(f"http://localhost:{page.port}/secret", source_host="localhost")
    assert result.status == 200 and result.content == b"internal page"
