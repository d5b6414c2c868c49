"""Polite HTTP downloads: conditional GET, connection limits, size caps, bounded time.

The network edge. Every request goes through `Fetcher.fetch`, which follows redirects
itself so that each hop is checked and counted, and every connection through `GatedBackend`,
which connects only to addresses the URL gate checked (see `monitor.collect.urlgate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from monitor.backoff import describe_wait, parse_retry_after
from monitor.collect.urlgate import Resolver, checked_addresses, is_fetch_url_allowed, same_host
from monitor.errors import BlockedURLError, FetchError
from monitor.records import FetchResult
from monitor.settings import HttpSettings

REDIRECTS = {301, 302, 303, 307, 308}
UrlCheck = Callable[[str, str | None], str | None]


class Inflater:
    """A response body's content encoding undone a step at a time: `feed` yields pieces of at
    most STEP bytes however much a compressed chunk expands to. identity, gzip and deflate (zlib
    or raw, as servers send both) are what the monitor asks for; anything else is refused."""

    STEP = 64 * 1024

    def __init__(self, encoding: str) -> None:
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise ValueError(f"unsupported content encoding {encoding!r}")
        self._encoding = encoding
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS) if "gzip" in encoding else None
        self._first = encoding == "deflate"  # zlib-wrapped or raw: decided on the first bytes

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._first:
            self._first = False
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if _is_zlib_header(data) else -zlib.MAX_WBITS)
        if self._zlib is None:
            yield data
            return
        piece = self._zlib.decompress(data, self.STEP)
        yield piece
        while self._zlib.unconsumed_tail:
            yield self._zlib.decompress(self._zlib.unconsumed_tail, self.STEP)

    def flush(self) -> bytes:
        return self._zlib.flush(self.STEP) if self._zlib is not None else b""


def _is_zlib_header(data: bytes) -> bool:
    """RFC 1950's two-byte header: deflate method, a header checksum divisible by 31."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


class BodyMemory:
    """The bytes every body may take together (`[http] max_total_bytes`): counted a piece at a
    time as it arrives, and until the `FetchResult` that carries it is dropped (the cycle has
    parsed it), not only while it downloads: downloads finish faster than bodies are parsed, and
    bodies waiting for their turn are memory too. A download waits for room, except the one
    admitted first among those holding bytes: it may always go on (up to its own cap), so one
    always finishes and frees its share. Bounded so: the total plus one cap.

    Released from any thread (a result may be dropped in a worker thread), so the waiters are
    futures woken on their own loops."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._held: dict[int, int] = {}  # holder -> bytes, in the order they were admitted
        self._guard = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._holders = itertools.count()

    def holder(self) -> int:
        return next(self._holders)

    async def take(self, holder: int, size: int) -> None:
        while True:
            with self._guard:
                if self.used + size <= self.total or next(iter(self._held), holder) == holder:
                    self._held[holder] = self._held.get(holder, 0) + size
                    self.used += size
                    return
                loop = asyncio.get_running_loop()
                woken = loop.create_future()
                self._waiters.append((loop, woken))
            await woken

    def release(self, holder: int) -> None:
        with self._guard:
            self.used -= self._held.pop(holder, 0)
            waiters, self._waiters = self._waiters, []
        for loop, woken in waiters:
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits there
                loop.call_soon_threadsafe(_wake, woken)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class RefusedConnectionError(httpcore.ConnectError):
    """The URL gate refused every address a host resolved to (or the lookup failed)."""


class GatedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network, connecting only to addresses the URL gate checked: the host is
    resolved once, here, every address of the answer is checked, and the socket connects to
    one of them. TLS is still verified against the host name: httpcore starts it with the
    URL's host, not the address. Hosts `exempt` says so of (the ones the user configured, or
    all under `allow_private`) connect as usual."""

    def __init__(self, exempt: Callable[[str], bool], resolver: Resolver | None = None) -> None:
        self._exempt = exempt
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = [host]
        if not self._exempt(host):
            addresses, reason = await asyncio.to_thread(checked_addresses, host, self._resolver)
            if reason:
                raise RefusedConnectionError(reason)
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as e:  # another address of the name may answer
                error = e
        raise error or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the monitor connects to no Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class HttpxFetcher:
    """Downloads with httpx; one client per host, so that no pool serialises the rest."""

    def __init__(
        self, settings: HttpSettings, check_url: UrlCheck | None = None, resolver: Resolver | None = None
    ) -> None:
        self.settings = settings
        self.check_url = check_url or partial_gate(settings.allow_private)
        self._global = asyncio.Semaphore(settings.max_connections)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tls: ssl.SSLContext | None = None  # one for every client: each costs ~30 ms and ~1 MB
        self._source_hosts: set[str] = set()  # the hosts of the user's sources, exempt from the address rule
        self._backend = GatedBackend(self._exempt, resolver)
        self._memory = BodyMemory(settings.max_total_bytes)

    def _exempt(self, host: str) -> bool:
        return self.settings.allow_private or any(same_host(host, h) for h in self._source_hosts)

    async def __aenter__(self) -> HttpxFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def _client(self, host: str) -> httpx.AsyncClient:
        if host not in self._clients:
            s = self.settings
            self._clients[host] = httpx.AsyncClient(
                transport=self._transport(),
                timeout=httpx.Timeout(s.timeout),
                headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
                follow_redirects=False,
                trust_env=False,
            )
        return self._clients[host]

    def _transport(self) -> httpx.AsyncHTTPTransport:
        """httpx's transport with its connection pool on the gated backend. httpx takes no
        network backend, so the pool it built is replaced by the same pool on ours."""
        s, tls = self.settings, self._tls_context()
        transport = httpx.AsyncHTTPTransport(verify=tls, trust_env=False)
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls,
            max_connections=s.per_host,
            max_keepalive_connections=s.per_host,
            keepalive_expiry=5.0,
            network_backend=self._backend,
        )
        return transport

    def _tls_context(self) -> ssl.SSLContext:
        """httpx's default TLS settings (certifi's CAs), loaded once instead of once per host."""
        if self._tls is None:
            self._tls = httpx.create_ssl_context(trust_env=False)
        return self._tls

    async def fetch(
        self,
        source_id: str,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
        source_host: str | None = None,
    ) -> FetchResult:
        """GET `url` within the configured deadline; raise FetchError for anything but 200/304.

        Every hop passes the URL gate; `source_host` is the host the user configured, exempt
        from the private-address rule."""
        if source_host:
            self._source_hosts.add(source_host)
        try:
            return await self._follow(source_id, url, etag, last_modified, accept, source_host)
        except TimeoutError as e:
            raise FetchError(source_id, f"no complete response within {self.settings.deadline:g}s") from e

    async def _follow(
        self,
        source_id: str,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        source_host: str | None,
    ) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        budget = _Budget(self.settings.deadline)
        for _hop in range(self.settings.max_redirects + 1):
            if reason := self.check_url(url, source_host):  # no lookup: names are checked on connecting
                raise BlockedURLError(source_id, f"{url}: {reason}")
            host = (urlsplit(url).hostname or "").lower()
            semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self.settings.per_host))
            async with semaphore, self._global, budget.running():
                result = await self._get(source_id, url, host, headers)
            if isinstance(result, FetchResult):
                return result
            url = result
        raise FetchError(source_id, f"more than {self.settings.max_redirects} redirects")

    async def _get(self, source_id: str, url: str, host: str, headers: dict[str, str]) -> FetchResult | str:
        """One request: a result, or the next URL of a redirect."""
        try:
            async with self._client(host).stream("GET", url, headers=headers) as response:
                if response.status_code in REDIRECTS and "location" in response.headers:
                    return urljoin(url, response.headers["location"])
                if response.status_code == 304:
                    # Read to its end (it has no body): a response left unread closes its
                    # connection, and every unchanged feed of a host would open a new one.
                    await response.aread()
                    return self._result(source_id, url, response, None)
                if response.status_code != 200:
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    message = f"HTTP {response.status_code} {response.reason_phrase}".strip()
                    if retry_after is not None:  # shown, so that a reader sees why polls pause
                        message += f" (Retry-After: {describe_wait(retry_after)})"
                    raise FetchError(source_id, message, status=response.status_code, retry_after=retry_after)
                holder = self._memory.holder()
                try:
                    body = await self._read_capped(source_id, response, holder)
                    result = self._result(source_id, url, response, body)
                except BaseException:
                    self._memory.release(holder)
                    raise
                weakref.finalize(result, self._memory.release, holder)  # counted until the body is dropped
                return result
        except httpx.TimeoutException as e:
            raise FetchError(source_id, f"timed out ({type(e).__name__})") from e
        except httpx.TooManyRedirects as e:  # pragma: no cover - we follow redirects ourselves
            raise FetchError(source_id, "too many redirects") from e
        except httpx.DecodingError as e:
            raise FetchError(source_id, f"cannot decode response body: {e}") from e
        except httpx.ConnectError as e:
            if isinstance(e.__cause__, RefusedConnectionError):
                raise BlockedURLError(source_id, f"{url}: {e.__cause__}") from e
            raise FetchError(source_id, describe_error(e)) from e
        except httpx.HTTPError as e:
            raise FetchError(source_id, describe_error(e)) from e

    async def _read_capped(self, source_id: str, response: httpx.Response, holder: int) -> bytes:
        """The body, decoded, refused once it passes the cap. It is decompressed here, in steps
        of at most `Inflater.STEP` bytes of output: httpx would inflate each network chunk
        whole, and 64 KB of a gzip bomb is 64 MB, so sixteen bombs at once took 643 MB before
        any cap was checked. Now a download holds at most the cap and one step, and all of them
        together what `BodyMemory` allows."""
        cap = self.settings.max_bytes
        encoding = response.headers.get("content-encoding", "").strip().lower()
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > cap and not encoding:
            raise FetchError(source_id, f"response of {declared} bytes is over the {cap}-byte cap")
        try:
            inflater = Inflater(encoding)
        except ValueError as e:
            raise FetchError(source_id, str(e)) from e
        pieces: list[bytes] = []  # joined once at the end: a growing buffer over-allocates
        size = 0
        try:
            async for chunk in response.aiter_raw():
                for piece in inflater.feed(chunk):  # one step at a time: never a whole chunk's expansion
                    size += len(piece)
                    if size > cap:
                        raise FetchError(source_id, f"response is over the {cap}-byte cap")
                    await self._memory.take(holder, len(piece))
                    pieces.append(piece)
            rest = inflater.flush()
            if size + len(rest) > cap:
                raise FetchError(source_id, f"response is over the {cap}-byte cap")
        except zlib.error as e:
            pieces.clear()
            raise FetchError(source_id, f"cannot decode response body: {e}") from e
        except BaseException:
            # The error's traceback keeps this frame, and with it up to a cap of pieces, as long
            # as the error lives (a failed source's outcome outlives its download): the budget
            # releases them at once, so the memory must go too.
            pieces.clear()
            raise
        return b"".join([*pieces, rest])

    @staticmethod
    def _result(source_id: str, url: str, response: httpx.Response, body: bytes | None) -> FetchResult:
        headers = {k.lower(): v for k, v in response.headers.items()}
        return FetchResult(
            source_id=source_id,
            url=url,
            status=response.status_code,
            content=body,
            headers=headers,
            fetched_at=datetime.now(UTC),
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )


class _Budget:
    """The deadline of one download, over all its hops. Only the time spent on it counts, not
    the time queued for a connection slot: with many sources on one host, a download that
    waited its turn must not fail for having waited."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Raise TimeoutError when the rest of the budget runs out inside the block."""
        began = time.monotonic()
        try:
            async with asyncio.timeout(self.left):
                yield
        finally:
            self.left -= time.monotonic() - began


def describe_error(error: BaseException) -> str:
    """`Type: message` for an error, the message taken from its causes when it has none of its
    own (a reset connection raises an empty httpx.ReadError; the cause says "Connection reset
    by peer")."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if str(cause).strip():
            return f"{type(error).__name__}: {clean_line(str(cause))}"
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return f"{type(error).__name__}: connection failed"


def clean_line(text: str) -> str:
    return " ".join(text.split())


def partial_gate(allow_private: bool) -> UrlCheck:
    """The URL gate with the configured private-address policy."""

    def check(url: str, source_host: str | None) -> str | None:
        return is_fetch_url_allowed(url, source_host=source_host, allow_private=allow_private)

    return check
