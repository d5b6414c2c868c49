"""Values of a feed as feedparser leaves them (`monitor.collect.parse.fastfeed`'s reading must
equal feedparser's): links resolved and fixed, content types, markup re-serialised unless
provably stable, dates of strict RFC 822 or W3C-DTF. Anything unsure raises `UnsureError`.
"""

from __future__ import annotations

import contextlib
import html.entities
import re
import time
from datetime import datetime, timedelta

from feedparser.urls import resolve_relative_uris

CP1252 = {c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
C1 = re.compile("[\x80-\x9f]")


class UnsureError(Exception):
    """Something read here might differ from feedparser's reading: feedparser decides."""


_WIDE = re.compile("[^\x00-\xff]")
_URI_FIXER = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")  # feedparser's, verbatim
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
LINK_REF = re.compile("&([A-Za-z0-9_]+);")
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}


def finish(value: str) -> str:
    """feedparser's last step for every value: text that was UTF-8 read as Latin-1 is repaired."""
    if value.isascii():
        return value
    if not _WIDE.search(value):  # all of it Latin-1: it may be UTF-8 bytes read as Latin-1
        with contextlib.suppress(UnicodeDecodeError):
            value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(CP1252) if C1.search(value) else value


def resolve(uri: str) -> str:
    """feedparser's resolution of a link against an empty base: only its slash repair."""
    m = _URI_FIXER.match(uri)
    return uri[: m.end(1)] + uri[m.end(2) :] if m and m.group(2) else uri  # its sub(r"\1\3"), quicker


def absolute(uri: str) -> str:
    if not _ABSOLUTE.match(uri):
        raise UnsureError  # feedparser would join it with a base when it has one
    return uri


def media_type(value: str) -> str:
    value = value.lower()
    return _TEXT_TYPES.get(value, value)


# Escaped markup is re-serialised by feedparser's sgmllib-based resolver before anything reads it.
# For markup made only of these tokens the pass changes attributes and spelling, never the text an
# HTML parser finds (a test checks this on generated markup), so it can be skipped: text without
# `<` or `&`; known entities and character references (not 128-159, which it remaps); start and end
# tags of common inline and block elements (in lower case: quicker to match) with double-quoted ASCII
# attributes; br, hr, img, wbr.
_PLAIN_TAGS = (
    "a|abbr|b|bdi|bdo|big|blockquote|center|cite|code|dd|del|dfn|div|dl|dt|em|figcaption|figure|font|"
    "h[1-6]|i|ins|kbd|li|mark|ol|p|pre|q|s|samp|small|span|strike|strong|sub|sup|time|tt|u|ul|var"
)
_VOID_TAGS = "br|hr|img|wbr"
_ATTR = r"""\s++[a-zA-Z_][-a-zA-Z0-9_:.]*+="(?:[\t\n\r !#-%'-;=?-~]++|&(?!#))*+\""""
_STABLE = re.compile(
    r"(?:[^<&]++"
    r"|&(?:[a-zA-Z][a-zA-Z0-9]*+|#[0-9]{1,7}+|#x[0-9a-f]{1,6}+);"
    rf"|<(?:{_PLAIN_TAGS})(?:{_ATTR})*+\s*+>"
    rf"|<(?:{_VOID_TAGS})(?:{_ATTR})*+\s*+/?>"
    rf"|</(?:{_PLAIN_TAGS})\s*+>"
    r")*+"
)
_ENTITY = re.compile(r"&([a-zA-Z][a-zA-Z0-9]*);")
_CHARREF = re.compile(r"&#(x?)([0-9a-f]+);")
_ENTITIES = frozenset(html.entities.name2codepoint) | {"apos"}


def stable_markup(markup: str) -> bool:
    """Whether feedparser's HTML re-serialisation leaves the text of `markup` as it is."""
    if "<" not in markup and "&" not in markup:
        return True  # the pass is the identity then
    if not _STABLE.fullmatch(markup):
        return False
    if any(name not in _ENTITIES for name in _ENTITY.findall(markup)):
        return False
    return not any(0x80 <= int(num, 16 if x else 10) <= 0x9F for x, num in _CHARREF.findall(markup))


def markup_value(raw: str, content_type: str, exact: bool) -> str:
    """A markup value as feedparser stores it; when not `exact`, one with the same text."""
    if "<" not in raw and "&" not in raw:
        return finish(raw)  # the pass is the identity
    if not exact and stable_markup(raw):
        finished = finish(raw)
        if finished == raw:  # else the repair could see other bytes after the pass
            return raw
    return finish(str(resolve_relative_uris(raw, "", "utf-8", content_type)))


# --- dates -------------------------------------------------------------------------------------

_MONTHS = {
    m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_YEAR = r"((?:19|2\d)\d\d)"
_RFC822 = re.compile(
    rf"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{{1,2}}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {_YEAR} "
    r"(\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC?|Z|([+-])(\d{2})(\d{2}))"
)
_W3CDTF = re.compile(rf"{_YEAR}-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{{1,9}})?(?:Z|([+-])(\d\d):(\d\d))")


def feed_date(value: str) -> time.struct_time:
    """The UTC time tuple feedparser's date handlers give these strict forms (the first handler that
    accepts the string, w3dtf or rfc822, computes exactly this); anything else is not sure. Years
    1900-2999 only: far from the ends of the ranges where feedparser and `feed_date` give up."""
    if m := _RFC822.fullmatch(value):
        day, month, year, hour, minute, second, sign, tzh, tzm = m.groups()
        numbers = (int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second))
    elif m := _W3CDTF.fullmatch(value):
        year, month, day, hour, minute, second, sign, tzh, tzm = m.groups()
        numbers = (int(year), int(month), int(day), int(hour), int(minute), int(second))
    else:
        raise UnsureError
    try:
        stamp = datetime(*numbers)  # noqa: DTZ001  # feedparser's naive stamp, shifted to UTC below
        if offset := int(tzh or 0) * 3600 + int(tzm or 0) * 60:
            stamp = stamp + timedelta(0, offset) if sign == "-" else stamp - timedelta(0, offset)
        return stamp.utctimetuple()
    except (ValueError, OverflowError) as exc:
        raise UnsureError from exc  # feedparser would go on to its other handlers


# --- documents ---------------------------------------------------------------------------------
