"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) into the `ParsedFeed` the RSS and
Atom parsers give, by the same rules for incomplete entries (see `monitor.collect.parse.feeds`):

- no `id`: the item's `url` stands in for it, else a hash of title and summary;
- no `url`: `external_url`, else an `id` that is an http(s) URL, else the item has no link;
- no date (`date_published`, else `date_modified`; RFC 3339): the pipeline uses the time fetched;
- no title, summary or link at all: skipped.

The summary is the longest of `summary`, `content_text` and `content_html` (as text), as the
Atom reading takes the longer of summary and content. The language is the item's, else the
feed's (1.1). Fields of the wrong type are read as absent and named in the warning; an item that
is not an object is skipped and counted. Bytes that are not JSON, and JSON that is not a JSON
Feed, are a warning with no items: the pipeline makes that an error on the source, as for a
broken XML feed. JSON is UTF-8 (RFC 8259); a document in another charset is decoded by its
Content-Type, else by detection, with a warning. No I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from monitor.collect.decode import detect_charset, normalize_charset
from monitor.records import ParsedFeed, ParsedItem
from monitor.text.normalize import clean_text, html_to_text

VERSIONS = ("https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1")
MEDIA_TYPES = ("application/feed+json", "application/json", "text/json")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([^\s;\"']+)", re.IGNORECASE)
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?$"
)
_PROBLEMS_SHOWN = 3


def is_json_feed(content: bytes, headers: dict[str, str]) -> bool:
    """Whether the document is to be read as JSON: a JSON media type, or a body that opens with
    `{` (no XML feed does)."""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    return media in MEDIA_TYPES or content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_json_feed(content: bytes, headers: dict[str, str]) -> ParsedFeed:
    """The items of a JSON Feed; `warning` says what was wrong with it, if anything."""
    text, note = decode_json(content, headers)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError; RecursionError: nesting
        return ParsedFeed(items=[], warning=_joined(note, f"malformed feed (not JSON: {_reason(e)})"))
    if not isinstance(doc, dict) or doc.get("version") not in VERSIONS:
        found = doc.get("version") if isinstance(doc, dict) else None
        why = f"version {str(found)[:60]!r} is not a JSON Feed version" if found else "no JSON Feed version"
        return ParsedFeed(items=[], warning=_joined(note, f"not a feed (JSON, {why})"))
    problems: list[str] = []
    raw_items = doc.get("items")
    if not isinstance(raw_items, list):
        problems.append("items is not a list")
        raw_items = []
    lang = _string(doc, "language", problems, "feed")
    items = []
    for n, raw in enumerate(raw_items, 1):
        if not isinstance(raw, dict):
            problems.append(f"item {n} is not an object")
        elif (item := read_item(raw, lang, problems, f"item {n}")) is not None:
            items.append(item)
    title = clean_text(_string(doc, "title", problems, "feed") or "") or None
    warning = f"malformed feed ({_summarised(problems)})" if problems else None
    return ParsedFeed(items=items, title=title, lang=lang, warning=_joined(note, warning))


def read_item(raw: dict[str, Any], feed_lang: str | None, problems: list[str], where: str) -> ParsedItem | None:
    """One item by the rules above; None when it has no title, summary or link."""
    title = clean_text(_string(raw, "title", problems, where) or "")
    summary = _longest(
        clean_text(_string(raw, "summary", problems, where) or ""),
        clean_text(_string(raw, "content_text", problems, where) or ""),
        html_to_text(_string(raw, "content_html", problems, where)),
    )
    guid = _id(raw, problems, where)
    link = _url(_string(raw, "url", problems, where)) or _url(_string(raw, "external_url", problems, where))
    if not link and guid and guid.lower().startswith(("http://", "https://")):
        link = guid
    if not (title or summary or link):
        return None
    if not guid:
        guid = link or "sha1:" + hashlib.sha1(f"{title}\n{summary}".encode()).hexdigest()
    published = parse_date(_string(raw, "date_published", problems, where)) or parse_date(
        _string(raw, "date_modified", problems, where)
    )
    lang = clean_text(_string(raw, "language", problems, where) or "") or feed_lang
    return ParsedItem(guid=guid[:2000], url=link, title=title, summary=summary, published_at=published, lang=lang)


def parse_date(value: str | None) -> datetime | None:
    """An RFC 3339 date (a date alone is midnight; no offset is UTC), in UTC; None if it is not one."""
    m = _RFC3339.match(value.strip()) if value else None
    if m is None:
        return None
    year, month, day, hour, minute, second, zone = m.groups()
    try:
        zone_info = UTC if not zone or zone in ("Z", "z") else _offset(zone)
        when = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=zone_info
        )
        return when.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _offset(zone: str) -> timezone:
    digits = zone[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-delta if zone[0] == "-" else delta)


def decode_json(content: bytes, headers: dict[str, str]) -> tuple[str, str | None]:
    """The text of a JSON document and a note when it was not UTF-8."""
    try:
        return content.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    m = _CHARSET.search(headers.get("content-type", ""))
    declared = normalize_charset(m[1]) if m else None
    for codec, how in ((declared, "as declared"), (detect_charset(content), "as detected")):
        if codec and codec != "utf-8":
            try:
                return content.decode(codec), f"wrong charset: JSON must be UTF-8; decoded {how}, {codec}"
            except (UnicodeDecodeError, LookupError):
                continue
    return content.decode("utf-8", "replace"), "wrong charset: not UTF-8; undecodable bytes replaced"


def _string(raw: dict[str, Any], key: str, problems: list[str], where: str) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.append(f"{where}: {key} is not a string")
    return None


def _id(raw: dict[str, Any], problems: list[str], where: str) -> str | None:
    """The item's id; JSON Feed 1.0 publishers write numbers, which the spec says to read as strings."""
    value = raw.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
        problems.append(f"{where}: id is not a string")
        return None
    return clean_text(str(value)) or None if value is not None else None


def _url(value: str | None) -> str | None:
    return clean_text(value or "") or None


def _longest(*texts: str) -> str:
    return max(texts, key=len)


def _reason(e: Exception) -> str:
    return "nested too deeply" if isinstance(e, RecursionError) else str(e)[:200]


def _summarised(problems: list[str]) -> str:
    shown = "; ".join(problems[:_PROBLEMS_SHOWN])
    more = len(problems) - _PROBLEMS_SHOWN
    return shown + (f"; and {more} more" if more > 0 else "")


def _joined(note: str | None, warning: str | None) -> str | None:
    return "; ".join(w for w in (note, warning) if w) or None
