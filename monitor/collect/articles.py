"""Fetch the linked article of new items and extract its text: the article edge.

Polite: robots.txt is honoured (one fetch per host and cycle), the fetcher's per-host limits
apply, and a failure is recorded on the item, never dropping it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.collect.decode import decode_html
from monitor.collect.parse.article import Article, extract_article
from monitor.collect.robots import robots_allows
from monitor.errors import SourceError
from monitor.records import Fetcher, StoredItem

ARTICLE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True, slots=True)
class ArticleOutcome:
    item_id: int
    status: str  # ok | failed | blocked | empty
    article: Article | None = None
    error: str | None = None


class RobotsCache:
    """robots.txt per host for one cycle: fetched once, shared by every source."""

    def __init__(self, fetcher: Fetcher, user_agent: str) -> None:
        self.fetcher = fetcher
        self.user_agent = user_agent
        self._rules: dict[str, asyncio.Task[str]] = {}

    async def allows(self, url: str, source_host: str | None) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            self._rules[origin] = asyncio.create_task(self._load(origin, source_host))
        return robots_allows(await self._rules[origin], self.user_agent, url)

    async def _load(self, origin: str, source_host: str | None) -> str:
        """The rules, or none: a missing or unreadable robots.txt allows everything."""
        try:
            result = await self.fetcher.fetch(
                "robots", origin + "/robots.txt", accept="text/plain", source_host=source_host
            )
        except SourceError:
            return ""
        return (result.content or b"").decode("utf-8", "replace")


async def fetch_article(
    item: StoredItem, fetcher: Fetcher, robots: RobotsCache, source_host: str | None
) -> ArticleOutcome:
    url = item.url or ""
    if not url:
        return ArticleOutcome(item.id, "failed", error="no link")
    try:
        if not await robots.allows(url, source_host):
            return ArticleOutcome(item.id, "blocked", error="disallowed by robots.txt")
        result = await fetcher.fetch(item.source_id, url, accept=ARTICLE_ACCEPT, source_host=source_host)
    except SourceError as e:
        return ArticleOutcome(item.id, "blocked" if e.kind == "blocked" else "failed", error=e.message)
    article = extract_article(decode_html(result.content or b"", result.headers), result.url)
    if not article.text:
        return ArticleOutcome(item.id, "empty", article, error="no article text found")
    return ArticleOutcome(item.id, "ok", article)
