"""Polite HTTP downloads: conditional GET, connection limits, size caps, bounded time.

The network edge. Every request goes through `Fetcher.fetch`, which follows redirects
itself so that each hop is checked and counted.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.errors import BlockedURLError, FetchError
from monitor.models import FetchResult, HttpSettings
from monitor.urlgate import is_fetch_url_allowed

REDIRECTS = {301, 302, 303, 307, 308}
UrlCheck = Callable[[str, str | None], str | None]


class HttpxFetcher:
    """Downloads with httpx; one client per host, so that no pool serialises the rest."""

    def __init__(self, settings: HttpSettings, check_url: UrlCheck | None = None) -> None:
        self.settings = settings
        self.check_url = check_url or partial_gate(settings.allow_private)
        self._global = asyncio.Semaphore(settings.max_connections)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}

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
                timeout=httpx.Timeout(s.timeout),
                limits=httpx.Limits(max_connections=s.per_host, max_keepalive_connections=s.per_host),
                headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
                follow_redirects=False,
                trust_env=False,
            )
        return self._clients[host]

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
        try:
            async with asyncio.timeout(self.settings.deadline):
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
        for _hop in range(self.settings.max_redirects + 1):
            if reason := await asyncio.to_thread(self.check_url, url, source_host):
                raise BlockedURLError(source_id, f"{url}: {reason}")
            host = (urlsplit(url).hostname or "").lower()
            semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self.settings.per_host))
            async with semaphore, self._global:
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
                    return self._result(source_id, url, response, None)
                if response.status_code != 200:
                    raise FetchError(
                        source_id,
                        f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                        status=response.status_code,
                        retry_after=parse_retry_after(response.headers.get("retry-after")),
                    )
                body = await self._read_capped(source_id, response)
                return self._result(source_id, url, response, body)
        except httpx.TimeoutException as e:
            raise FetchError(source_id, f"timed out ({type(e).__name__})") from e
        except httpx.TooManyRedirects as e:  # pragma: no cover - we follow redirects ourselves
            raise FetchError(source_id, "too many redirects") from e
        except httpx.DecodingError as e:
            raise FetchError(source_id, f"cannot decode response body: {e}") from e
        except httpx.HTTPError as e:
            raise FetchError(source_id, f"{type(e).__name__}: {e or 'connection failed'}") from e

    async def _read_capped(self, source_id: str, response: httpx.Response) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap and not response.headers.get("content-encoding"):
            raise FetchError(source_id, f"response of {declared} bytes is over the {cap}-byte cap")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(source_id, f"response is over the {cap}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)

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


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def partial_gate(allow_private: bool) -> UrlCheck:
    """The URL gate with the configured private-address policy."""

    def check(url: str, source_host: str | None) -> str | None:
        return is_fetch_url_allowed(url, source_host=source_host, allow_private=allow_private)

    return check
