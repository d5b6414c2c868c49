"""Parse one downloaded document, a feed or a listing page, into items.

Plain values in and out (bytes, headers, a URL; a `ParsedFeed`), so that the pipeline can run it
in worker processes: feedparser is most of a poll's CPU, and a pool spreads it over the cores.
This module imports only the parsers, to keep a worker's start and memory small. No I/O.
"""

from __future__ import annotations

from monitor.collect.decode import decode_html_noting
from monitor.collect.parse.feeds import parse_feed, with_warning
from monitor.collect.parse.pages import parse_page
from monitor.records import ParsedFeed
from monitor.settings import PageSelectors, SourceKind


def parse_content(
    kind: SourceKind, content: bytes, headers: dict[str, str], url: str, selectors: PageSelectors | None
) -> ParsedFeed:
    """The items of a feed (`kind` "feed") or a listing page ("page")."""
    if kind == "page":
        text, note = decode_html_noting(content, headers)
        return with_warning(parse_page(text, url, selectors or PageSelectors()), note and f"wrong charset: {note}")
    return parse_feed(content, headers, url)
