"""RSS, Atom and RDF feeds through feedparser, or its lxml fast path for plain RSS 2.0 and Atom 1.0.

feedparser gets the raw bytes and the response headers, so that it can find the
encoding itself. A malformed (bozo) feed keeps whatever entries were recovered.

feedparser is most of the CPU of ingesting, so `parse_feed` first tries `fastfeed`, which reads
well-formed RSS 2.0 and Atom 1.0 with lxml into the same shape as feedparser's result (a test
compares them on the corpora) and declines anything it is not sure of. Both results become items
by the rules below.

Rules for incomplete entries:
- no guid (`id`): the link stands in for it, else a hash of title and summary;
- no link: a guid that is an http(s) URL stands in for it, else the item has no link;
- no date (published, else updated): the pipeline uses the time fetched and notes it;
- no title, summary or link at all: the entry is skipped as empty.

A document feedparser finds no feed in (no version, no entries) carries a warning even when it
is well-formed, so that the pipeline reports it instead of storing nothing in silence.

A wrong charset: when neither the declared encodings (Content-Type, then the XML declaration) nor
UTF-8 decode the bytes, feedparser falls back to windows-1252, and a GBK feed labelled UTF-8 came
out as mojibake. Then charset-normalizer's detection is asked; a multi-byte codec it finds (GB18030,
Big5, Shift JIS, ...) decodes the document, which is parsed again as UTF-8 with a warning saying
so. A single-byte guess is not taken: among the Latin codecs detection is unreliable, and
windows-1252 is what browsers assume too.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.encodings import RE_XML_DECLARATION, RE_XML_PI_ENCODING, convert_to_utf8, parse_content_type

from monitor.collect.decode import detect_charset
from monitor.collect.parse import fastfeed, jsonfeed
from monitor.records import ParsedFeed, ParsedItem
from monitor.text.normalize import clean_text, html_to_text

log = logging.getLogger(__name__)
# Only what matters for parsing: feedparser reads the charset from Content-Type.
_PASSED_HEADERS = ("content-type", "content-location", "content-language")


def parse_feed(content: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """Parse a feed document; `warning` says why it was malformed, if it was."""
    if jsonfeed.is_json_feed(content, headers):
        return jsonfeed.parse_json_feed(content, headers)
    try:
        fast = parse_fast(content, headers, url)
    except Exception:  # a bug in the shortcut: keep its traceback, and let feedparser decide
        log.warning("feed %s: the fast path failed; parsing with feedparser", url, exc_info=True)
        fast = None
    if fast is not None:
        return fast
    # Only here: the fast path declines every document whose declared encoding fails.
    redecoded = redecode_mislabelled(content, _passed(headers))
    if redecoded is None:
        return parse_with_feedparser(content, headers, url)
    content, passed, note = redecoded
    return with_warning(parse_feed(content, passed, url), note)  # recurses once: now UTF-8, and declared so


def with_warning(parsed: ParsedFeed, note: str | None) -> ParsedFeed:
    """The parse with `note` put before its own warning, if any."""
    if not note:
        return parsed
    return replace(parsed, warning=f"{note}; {parsed.warning}" if parsed.warning else note)


def redecode_mislabelled(content: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], str] | None:
    """The document in UTF-8, headers saying so and a note, when feedparser would fall back to a
    codec nobody declared and detection finds a multi-byte one that decodes it; else None."""
    result: dict[str, Any] = {}
    convert_to_utf8(dict(headers), content, result)
    used = str(result.get("encoding") or "").lower()
    declared = _declared_encodings(content, headers)
    if not result.get("bozo") or used in ("utf-8", *declared):
        return None
    codec = detect_charset(content)
    if codec is None or len(text := content.decode(codec)) == len(content):  # same length: single-byte
        return None
    text = RE_XML_DECLARATION.sub("<?xml version='1.0' encoding='utf-8'?>", text.removeprefix("\ufeff"), count=1)
    passed = dict(headers)
    if media_type := parse_content_type(headers.get("content-type", ""))[0]:
        passed["content-type"] = f"{media_type}; charset=utf-8"
    said = f"declared {declared[0]} but" if declared else "no encoding declared, and"
    # Worded as the flag feedparser would have raised: a feed with no entries then fails with
    # "no entries: malformed feed (...)" like any other.
    note = f"malformed feed (wrong charset: {said} the bytes are {codec}; decoded as {codec})"
    return text.encode("utf-8"), passed, note


def _declared_encodings(content: bytes, headers: dict[str, str]) -> list[str]:
    """The charset of the Content-Type and of the XML declaration, lower-cased, as declared."""
    declared = [parse_content_type(headers.get("content-type", ""))[1]]
    if match := RE_XML_PI_ENCODING.match(content):
        declared.append(match.group(1).decode("ascii", "replace").lower())
    return [label for label in declared if label]


def parse_fast(content: bytes, headers: dict[str, str], url: str) -> ParsedFeed | None:
    """What `parse_with_feedparser` gives, through lxml; None where the fast path is not sure."""
    doc = fastfeed.parse(content, _passed(headers))
    return None if doc is None else _parsed(doc, content)


def parse_with_feedparser(content: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    """The reference reading, used for whatever the fast path declines."""
    passed = _passed(headers)
    doc = feedparser.parse(content, response_headers=passed or None, sanitize_html=False, resolve_relative_uris=True)
    return _parsed(doc, content)


def _passed(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in _PASSED_HEADERS}


def _parsed(doc: Any, content: bytes) -> ParsedFeed:
    """A feedparser result (or the fast path's copy of one) as a ParsedFeed."""
    feed = doc.get("feed", {})
    lang = feed.get("language") or None
    items = [item for entry in doc.get("entries", []) if (item := _item(entry, lang)) is not None]
    warning = None
    if doc.get("bozo"):
        exc = doc.get("bozo_exception")
        warning = f"malformed feed ({type(exc).__name__}: {clean_text(str(exc))[:200]})"
    elif not doc.get("version") and not doc.get("entries"):
        # Well-formed, but no RSS, Atom or RDF in it (an XHTML page, some other XML, an empty
        # body): without this it would pass as a feed that has nothing new, forever.
        warning = (
            "not a feed (empty document)" if not content.strip() else "not a feed (no RSS, Atom or RDF root element)"
        )
    return ParsedFeed(items=items, title=clean_text(feed.get("title") or "") or None, lang=lang, warning=warning)


def looks_like_feed(content: bytes, headers: dict[str, str]) -> bool:
    """Whether feedparser recognised any feed at all (a version or entries)."""
    doc = feedparser.parse(content, response_headers=headers or None)
    return bool(doc.get("version") or doc.get("entries"))


def _item(entry: Any, feed_lang: str | None) -> ParsedItem | None:
    title = html_to_text(entry.get("title"))
    summary = html_to_text(_summary(entry))
    link = _link(entry)
    guid = clean_text(str(entry.get("id") or "")) or None
    if not link and guid and guid.lower().startswith(("http://", "https://")):
        link = guid
    if not (title or summary or link):
        return None
    if not guid:
        guid = link or "sha1:" + hashlib.sha1(f"{title}\n{summary}".encode()).hexdigest()
    return ParsedItem(
        guid=guid[:2000],
        url=link,
        title=title,
        summary=summary,
        published_at=_date(entry),
        lang=_entry_lang(entry) or feed_lang,
    )


def _summary(entry: Any) -> str:
    summary = entry.get("summary") or ""
    for content in entry.get("content") or []:
        value = content.get("value") or ""
        if len(value) > len(summary):
            summary = value
    return str(summary)


def _link(entry: Any) -> str | None:
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links") or []:
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    link = clean_text(str(link or ""))
    return link or None


def _date(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _entry_lang(entry: Any) -> str | None:
    for detail in ("title_detail", "summary_detail"):
        lang = (entry.get(detail) or {}).get("language")
        if lang:
            return str(lang)
    return None
