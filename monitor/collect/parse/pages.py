"""Listing pages without a feed: the item blocks of an HTML page → `ParsedFeed`, through BeautifulSoup.

With `PageSelectors` from the source's configuration the page is read as told. Omitted
selectors fall back to heuristics:
- blocks: `article`, `li`, `tr` and item-like classes inside the main content, after
  navigation, banners, footers and asides are removed; a block holding two or more other
  blocks with links is a container, not an item;
- link: the one in a heading, else the block's longest, reading like a headline;
- title: a heading of the block, else the link text (its `title` when the text is truncated);
- date: `time[datetime]`, else the first date written in the block (English or Chinese forms);
- summary: the block's first summary-like element or paragraph that is not the headline;
- no block at all: every link whose text is long enough for a headline is an item.

Links are made absolute against `<base href>` or the page URL, stripped of fragments, and
kept once per page. Dates without a zone are taken as UTC. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from bs4.element import PageElement

from monitor.records import ParsedFeed, ParsedItem
from monitor.settings import PageSelectors
from monitor.text.normalize import HAN, clean_text


@dataclass(frozen=True, slots=True)
class _Kind:
    """A kind of element by tag name, class, id or role: a plain-Python matcher, because
    soupsieve is slow over every element of a long page."""

    names: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    def __call__(self, tag: Tag) -> bool:
        return (
            tag.name in self.names
            or bool(self.ids and _attr(tag, "id") in self.ids)
            or bool(self.roles and _attr(tag, "role") in self.roles)
            or not self.classes.isdisjoint(tag.get_attribute_list("class"))
        )


CHROME = _Kind(
    names=frozenset({"script", "style", "noscript", "template", "nav", "aside"}),
    classes=frozenset({"nav", "navbar", "menu", "breadcrumb", "breadcrumbs", "pagination", "pager", "sidebar"}),
    ids=frozenset({"nav", "menu", "sidebar"}),
    roles=frozenset({"navigation", "banner", "contentinfo", "complementary", "search"}),
)
# Inside an item these hold its title and date, so only page-level ones are chrome.
PAGE_CHROME = _Kind(
    names=frozenset({"header", "footer"}), classes=frozenset({"header", "footer"}), ids=frozenset({"header", "footer"})
)
REGIONS = _Kind(
    names=frozenset({"main"}),
    classes=frozenset({"main", "content", "main-content"}),
    ids=frozenset({"main", "content", "main-content"}),
    roles=frozenset({"main"}),
)
BLOCKS = _Kind(
    names=frozenset({"article", "li", "tr"}),
    classes=frozenset({"item", "news-item", "list-item", "post", "entry", "card", "story"}),
)
SUMMARIES = _Kind(
    names=frozenset({"p"}),
    classes=frozenset({"summary", "excerpt", "desc", "description", "abstract", "intro", "teaser"}),
)
# Titles come from the larger headings; a link under any heading is a headline.
TITLE_HEADINGS = ("h1", "h2", "h3", "h4")
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Text weights: a CJK character counts two, any other non-space character one.
BLOCK_LINK_WEIGHT = 12
HEADLINE_WEIGHT = 20
MAX_GUID = 2000

_SPACE = re.compile(r"\s+")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_MONTH = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_PATTERNS = (
    re.compile(
        r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?!\d)\s*日?"
        r"(?:\s*(?P<H>\d{1,2})[:时](?P<M>\d{2})(?:[:分](?P<S>\d{2}))?)?"
    ),
    re.compile(rf"\b{_MONTH}\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d{{2}})\b", re.IGNORECASE),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+(?P<y>(?:19|20)\d{{2}})\b", re.IGNORECASE),
)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


def parse_page(html: str, url: str, selectors: PageSelectors) -> ParsedFeed:
    """The items a listing page links to; `warning` says when it had none."""
    soup = BeautifulSoup(html, "lxml")
    lang = _attr(soup.html, "lang").strip() or None
    base = _base_url(soup, url)
    page = urldefrag(url).url
    items: list[ParsedItem] = []
    seen = {page}
    for item in _items(soup, base, selectors, lang):
        if item.guid not in seen:
            seen.add(item.guid or "")
            items.append(item)
    title = clean_text(soup.title.get_text(" ")) if soup.title else ""
    return ParsedFeed(
        items=items, title=title or None, lang=lang, warning=None if items else "no items found on the page"
    )


def parse_date(text: str | None, date_format: str | None = None) -> datetime | None:
    """A timezone-aware UTC date from `text`: by `date_format` if it fits, else ISO 8601,
    else the first date written in it (`2025-07-15`, `2025/7/15`, `2025年7月15日`,
    `July 15, 2025`, `15 Jul 2025`). A date without a zone is taken as UTC."""
    if not text:
        return None
    text = clean_text(unicodedata.normalize("NFKC", text))
    if date_format:
        try:
            # A format without %z gives a naive date, which _utc takes as UTC.
            return _utc(datetime.strptime(text, date_format))  # noqa: DTZ007
        except ValueError:
            pass
    if _ISO.fullmatch(text):
        try:
            return _utc(datetime.fromisoformat(text))
        except ValueError:
            pass
    return _search_date(text)


def _items(soup: BeautifulSoup, base: str, selectors: PageSelectors, lang: str | None) -> Iterator[ParsedItem]:
    if selectors.item:
        for block in soup.select(selectors.item):
            if item := _item(block, base, selectors, lang, min_weight=0):
                yield item
        return
    region = _main_region(_strip_chrome(soup))
    found = False
    for block in _default_blocks(region, base, selectors):
        if item := _item(block, base, selectors, lang, min_weight=BLOCK_LINK_WEIGHT):
            found = True
            yield item
    if not found:
        for block in _lone_links(region, base, selectors.link):
            if item := _item(block, base, selectors, lang, min_weight=HEADLINE_WEIGHT):
                yield item


def _item(block: Tag, base: str, selectors: PageSelectors, lang: str | None, *, min_weight: int) -> ParsedItem | None:
    link = _link(block, base, selectors.link, min_weight)
    href = _item_url(base, _attr(link, "href")) if link is not None else None
    if link is None or href is None:
        return None
    title = _title(block, link, selectors.title)
    return ParsedItem(
        guid=href[:MAX_GUID],
        url=href,
        title=title,
        summary=_summary(block, link, title, selectors.summary),
        published_at=_date(block, link, selectors),
        lang=lang,
    )


def _strip_chrome(soup: BeautifulSoup) -> BeautifulSoup:
    """Remove navigation, banners, footers and asides (in place: the soup is ours)."""
    for element in soup.find_all(CHROME):
        if not element.decomposed:
            element.decompose()
    for element in soup.find_all(PAGE_CHROME):
        if not element.decomposed and element.find_parent("article") is None:
            element.decompose()
    return soup


def _main_region(soup: BeautifulSoup) -> Tag:
    """The main content: the region-like element with the most links if it holds at least
    half of them (a `.content` can also be one card's), else the body."""
    body = soup.body or soup
    regions = soup.find_all(REGIONS)
    if not regions:
        return body
    count = {id(region): len(region.find_all("a", href=True)) for region in regions}
    best = max(regions, key=lambda region: count[id(region)])
    return best if count[id(best)] and 2 * count[id(best)] >= len(body.find_all("a", href=True)) else body


def _default_blocks(region: Tag, base: str, selectors: PageSelectors) -> list[Tag]:
    """Item-like blocks of the region, without containers of two or more such blocks."""
    blocks = region.find_all(BLOCKS)
    ids = {id(block) for block in blocks}
    nested: dict[int, int] = {}
    for block in blocks:
        if _link(block, base, selectors.link, BLOCK_LINK_WEIGHT) is not None:
            for parent in block.parents:
                if id(parent) in ids:
                    nested[id(parent)] = nested.get(id(parent), 0) + 1
    return [block for block in blocks if nested.get(id(block), 0) < 2]


def _lone_links(region: Tag, base: str, selector: str | None) -> Iterator[Tag]:
    """The links `selector` matches, else those that read like headlines, each with its
    parent when that holds no other one (so that a date beside the link is found)."""
    links = [
        link
        for link in region.select(selector or "a[href]")
        if selector or (_weight(_text(link)) >= HEADLINE_WEIGHT and _item_url(base, _attr(link, "href")))
    ]
    held = Counter(id(parent) for link in links for parent in link.parents)
    for link in links:
        parent = link.parent
        yield parent if parent is not None and parent is not region and held[id(parent)] == 1 else link


def _link(block: Tag, base: str, selector: str | None, min_weight: int) -> Tag | None:
    """The block's link: by selector; else itself if a link, the link of a heading,
    or its longest link of at least `min_weight`."""
    if selector:
        found = _select(block, selector)
        if found is None or found.name == "a" or found.has_attr("href"):
            return found
        return found.select_one("a[href]")
    if block.name == "a" and block.has_attr("href"):
        return block if _weight(_text(block)) >= min_weight else None
    links = [link for link in block.find_all("a", href=True) if _item_url(base, _attr(link, "href"))]
    for link in links:
        if _under_heading(link, block) and _text(link):
            return link
    if not links:
        return None
    longest = max(links, key=lambda link: _weight(_text(link)))
    return longest if _weight(_text(longest)) >= min_weight else None


def _title(block: Tag, link: Tag, selector: str | None) -> str:
    if selector and (found := _select(block, selector)) and (text := _text(found)):
        return text
    heading = block.find(TITLE_HEADINGS)
    if heading is not None and (text := _text(heading)):
        return text
    text = _text(link)
    full = clean_text(_attr(link, "title"))
    # Listing pages often cut long headlines short and keep the whole one in `title`.
    if full and (not text or (text.endswith(("...", "…")) and len(full) > len(text.rstrip(".…")))):
        return full
    return text


def _date(block: Tag, link: Tag, selectors: PageSelectors) -> datetime | None:
    if selectors.date:
        found = _select(block, selectors.date)
        if found is None:
            return None
        value = _attr(found, "datetime") or _attr(found, "content") or found.get_text(" ")
        return parse_date(value, selectors.date_format)
    for time in block.find_all("time"):
        if when := parse_date(_attr(time, "datetime") or time.get_text(" ")):
            return when
    # Dates beside the headline first: a headline may itself mention a date.
    beside = " ".join(s for s in block.strings if not _within(s, link) and not _under_heading(s, block))
    return _search_date(clean_text(unicodedata.normalize("NFKC", beside))) or parse_date(block.get_text(" "))


def _summary(block: Tag, link: Tag, title: str, selector: str | None) -> str:
    if selector:
        found = _select(block, selector)
        return _text(found) if found is not None else ""
    for candidate in block.find_all(SUMMARIES):
        if candidate is link or _within(link, candidate) or candidate.find(TITLE_HEADINGS):
            continue
        text = _text(candidate)
        # A short paragraph holding a date is the item's byline, not its summary.
        if text and text != title and (len(text) > 40 or _search_date(text) is None):
            return text
    return ""


def _select(block: Tag, selector: str) -> Tag | None:
    """The first match of `selector` in the block, the block itself included."""
    return block if block.css.match(selector) else block.select_one(selector)


def _within(node: PageElement, tag: Tag) -> bool:
    return any(parent is tag for parent in node.parents)


def _under_heading(node: PageElement, block: Tag) -> bool:
    """Whether a heading inside `block` holds `node` (bs4's find_parent is slow on long pages)."""
    for parent in node.parents:
        if parent is block:
            return False
        if parent.name in HEADINGS:
            return True
    return False


def _search_date(text: str) -> datetime | None:
    matches = sorted((m for pattern in _DATE_PATTERNS for m in pattern.finditer(text)), key=lambda m: m.start())
    for match in matches:
        if when := _date_of(match):
            return when
    return None


def _date_of(match: re.Match[str]) -> datetime | None:
    parts = match.groupdict()
    month = _MONTHS[parts["mon"][:3].lower()] if parts.get("mon") else int(parts["m"])
    try:
        return datetime(
            int(parts["y"]),
            month,
            int(parts["d"]),
            int(parts.get("H") or 0),
            int(parts.get("M") or 0),
            int(parts.get("S") or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _utc(when: datetime) -> datetime | None:
    """`when` in UTC (naive: taken as UTC); None when UTC would fall outside the calendar
    (`0001-01-01T00:00+05:00`), which is no date to keep."""
    try:
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:
        return None


def _base_url(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    href = _attr(base, "href") if isinstance(base, Tag) else ""
    return urljoin(url, href.strip()) if href.strip() else url


def _item_url(base: str, href: str) -> str | None:
    """An absolute http(s) link without fragment, or None: javascript:, mailto:, empty,
    and a site's home page, which is navigation, never an item."""
    href = clean_text(href)
    if not href or href.startswith("#"):
        return None
    try:
        url = urldefrag(urljoin(base, href)).url
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return None if parts.path in ("", "/") and not parts.query else url


def _attr(tag: Tag | None, name: str) -> str:
    value = tag.get(name) if tag is not None else None
    if isinstance(value, list):
        return " ".join(value)
    return value or ""


def _text(tag: Tag) -> str:
    return clean_text(tag.get_text(" "))


def _weight(text: str) -> int:
    """How much a text says: a CJK character counts two, other non-space characters one."""
    return len(_SPACE.sub("", text)) + len(HAN.findall(text))
