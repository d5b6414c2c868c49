"""A fast path for feedparser: well-formed RSS 2.0 and Atom 1.0 read with lxml. Pure, no I/O.

feedparser's SAX handlers are most of the CPU of ingesting. For the plain feeds that are nearly all
of the traffic, this reads the same document with lxml and returns what `feedparser.parse` would
return for the fields the monitor uses (a mapping shaped like its result: `feed.title`,
`feed.language`, and per entry `title`, `summary`, `content`, `link`, `links`, `id`, the
`*_parsed` dates and the `*_detail` languages), so that `monitor.collect.parse.feeds` turns both into items
by the same rules. A test compares the two on feedparser's own test corpus, the dev corpus and the
benchmark feeds.

It reproduces feedparser rather than the specifications: the bytes are decoded by feedparser's own
RFC 3023 rules (`convert_to_utf8`); an element is known by the key feedparser gives it (namespace
prefix and lower-cased name), so an Atom title inside an RSS item is a title, as there; a `guid`
is the link when it is a permalink; every value is stripped and goes through feedparser's last
steps (the UTF-8-read-as-Latin-1 repair, the cp1252 map); escaped markup goes through feedparser's
HTML re-serialisation unless it is of a simple form whose text that pass provably leaves alone.

Anything it cannot be sure of returns None and feedparser decides: a document that is empty, not
well-formed or has a DOCTYPE; any encoding problem feedparser would flag; a Content-Location or
xml:base (links would be resolved); a relative link; an element in an entry that feedparser maps
onto a field the monitor reads and that is not handled here (media:title, itunes:summary, a second
title, ...); a date that is not strict RFC 822 or W3C-DTF; markup elements inside a text field;
namespace declarations that could make feedparser name an element otherwise.
"""

from __future__ import annotations

import contextlib
import html.entities
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from feedparser.encodings import convert_to_utf8
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import resolve_relative_uris
from feedparser.util import FeedParserDict
from lxml import etree  # type: ignore[import-untyped]  # no stubs in the dev extra

Entry = dict[str, Any]


class _UnsureError(Exception):
    """Something read here might differ from feedparser's reading: feedparser decides."""


def parse(content: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """feedparser's result for the fields the monitor uses, or None when not sure of it.

    `headers` are the response headers passed to feedparser (content-type, -location, -language)."""
    try:
        data = _utf8(content, headers)
        root = _tree(data)
        reader = _Reader(_Names.of(root, data), headers.get("content-language") or None)
        return reader.read(root)
    except _UnsureError:
        return None


# --- bytes to tree ---------------------------------------------------------------------------

# xml:base, or a plain `base` attribute, which feedparser also takes for one.
_BASE_ATTRIBUTE = re.compile(rb"[\s:]base\s*=", re.IGNORECASE)


def _utf8(content: bytes, headers: Mapping[str, str]) -> bytes:
    """The document as feedparser decodes it (same function), in UTF-8 with a declaration to say so."""
    if not content or headers.get("content-location"):
        raise _UnsureError  # empty: feedparser says "not a feed"; a location: links are resolved against it
    result: dict[str, Any] = {}
    data = convert_to_utf8(dict(headers), content, result)
    if result.get("bozo") or not result.get("encoding"):
        raise _UnsureError  # a non-XML media type or an encoding override: feedparser flags the feed
    return bytes(data)


def _tree(data: bytes) -> Any:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _UnsureError
    if b"base" in data.lower() and _BASE_ATTRIBUTE.search(data):  # lower() first: the regex is slow
        raise _UnsureError
    # One parser per document: lxml parsers are not to be shared between threads.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise _UnsureError from exc
    if len(parser.error_log) or root.getroottree().docinfo.doctype:
        raise _UnsureError  # libxml2 recovered from something expat may reject
    return root


# --- element names as feedparser knows them ----------------------------------------------------

_MATCH: dict[str, str] = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_PREFIXES = frozenset(prefix.lower() for prefix in _MATCH.values() if prefix)
_ATOM = "http://www.w3.org/2005/Atom"
# Namespaces whose declaration sets feedparser's version before the root element does.
_VERSION_URIS = frozenset({"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"})
_XLINK = "http://www.w3.org/1999/xlink"
_HANDLED = frozenset(
    name.split("_", 2)[2] if name.startswith("_start_") else name[len("_end_") :]
    for name in dir(_FeedParserMixin)
    if name.startswith(("_start_", "_end_"))
)


def _known(uri: str) -> str | None:
    low = uri.lower()
    if "backend.userland.com/rss" in low:
        low = "http://backend.userland.com/rss"
    return _MATCH.get(low)


@dataclass
class _Names:
    """feedparser's key for each element (`dc_date`, `title`, ...), from the namespace declarations.

    feedparser maps prefixes as it meets their declarations; declarations that could make an
    element's key depend on where it stands (a prefix bound to two namespaces, an unknown namespace
    under two prefixes, a known one under a prefix feedparser uses for another) are refused."""

    prefix_map: dict[str, str] = field(default_factory=dict)  # document prefix -> feedparser's
    unknown: dict[str, str] = field(default_factory=dict)  # unknown namespace -> its prefix
    rebound: dict[str, str] = field(default_factory=dict)  # prefix of an unknown namespace -> it
    uris: set[str] = field(default_factory=set)  # every namespace declared, lower-cased
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, root: Any, data: bytes) -> _Names:
        declared = root.nsmap.items()
        if data.count(b"xmlns") > len(root.nsmap):  # declarations below the root (or text)
            declared = [(prefix or None, uri) for _, (prefix, uri) in etree.iterwalk(root, events=("start-ns",))]
        names = cls()
        for prefix, uri in declared:
            names._declare(prefix, uri)
        return names

    def _declare(self, prefix: str | None, uri: str) -> None:
        if not uri:
            return
        if uri == _XLINK:
            raise _UnsureError  # feedparser copies its declaration into the attributes
        self.uris.add(uri.lower())
        known = _known(uri)
        if prefix is None:
            return  # a default namespace: its elements are named by their namespace alone
        if known is None:
            # feedparser finds the prefix of an unknown namespace by the namespace, among those met;
            # a prefix named like one of its own (thr, dc) gives its elements the same keys here.
            if self.unknown.setdefault(uri, prefix) != prefix or self.rebound.setdefault(prefix, uri) != uri:
                raise _UnsureError
            if prefix.lower() in self.prefix_map:
                raise _UnsureError  # its elements' keys would depend on whether that was declared yet
        else:
            lookups = _PREFIXES | {p.lower() for p in self.unknown.values()}
            if prefix in lookups and prefix != known:
                raise _UnsureError  # an element's key would depend on whether this was declared yet
            self.prefix_map[prefix] = known

    def key(self, el: Any) -> str:
        tag = el.tag
        found = self.keys.get(tag)
        if found is None:
            found = self.keys[tag] = self._key(tag)
        return found

    def _key(self, tag: str) -> str:
        if not isinstance(tag, str):
            raise _UnsureError
        ns, _, local = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
        prefix = "" if not ns else _known(ns)
        if prefix is None:  # feedparser names it by the prefix declared for it, if any
            prefix = self.unknown.get(ns, "")
        name = (f"{prefix}:{local}" if prefix else local).lower()
        if ":" not in name:
            return name
        prefix, local = name.split(":", 1)
        prefix = self.prefix_map.get(prefix, prefix)
        return f"{prefix}_{local}" if prefix else local

    def attrs(self, el: Any) -> dict[str, str]:
        """The attributes as feedparser's handlers see them: keys lower-cased, `rel` and `type` too."""
        attrs: dict[str, str] = {}
        for name, value in el.items():
            if name[0] == "{":
                ns, _, local = name[1:].partition("}")
                prefix = _MATCH.get(ns.lower(), "")
                name = f"{prefix}:{local}" if prefix else local
            name = name.lower()
            attrs[name] = value.lower() if name in ("rel", "type") else value
        return attrs


# --- values as feedparser finishes them --------------------------------------------------------

# feedparser maps the C1 controls to what they are in windows-1252 (those it defines).
_CP1252 = {c: bytes([c]).decode("cp1252") for c in range(0x80, 0xA0) if c not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
_C1 = re.compile("[\x80-\x9f]")
_WIDE = re.compile("[^\x00-\xff]")
_URI_FIXER = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")  # feedparser's, verbatim
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_LINK_REF = re.compile("&([A-Za-z0-9_]+);")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}


def _finish(value: str) -> str:
    """feedparser's last step for every value: text that was UTF-8 read as Latin-1 is repaired."""
    if value.isascii():
        return value
    if not _WIDE.search(value):  # all of it Latin-1: it may be UTF-8 bytes read as Latin-1
        with contextlib.suppress(UnicodeDecodeError):
            value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_CP1252) if _C1.search(value) else value


def _resolve(uri: str) -> str:
    """feedparser's resolution of a link against an empty base: only its slash repair."""
    m = _URI_FIXER.match(uri)
    return uri[: m.end(1)] + uri[m.end(2) :] if m and m.group(2) else uri  # its sub(r"\1\3"), quicker


def _absolute(uri: str) -> str:
    if not _ABSOLUTE.match(uri):
        raise _UnsureError  # feedparser would join it with a base when it has one
    return uri


def _content_type(value: str) -> str:
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


def _html(raw: str, content_type: str, exact: bool) -> str:
    """A markup value as feedparser stores it; when not `exact`, one with the same text."""
    if "<" not in raw and "&" not in raw:
        return _finish(raw)  # the pass is the identity
    if not exact and stable_markup(raw):
        finished = _finish(raw)
        if finished == raw:  # else the repair could see other bytes after the pass
            return raw
    return _finish(str(resolve_relative_uris(raw, "", "utf-8", content_type)))


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


def _date(value: str) -> time.struct_time:
    """The UTC time tuple feedparser's date handlers give these strict forms (the first handler that
    accepts the string, w3dtf or rfc822, computes exactly this); anything else is not sure. Years
    1900-2999 only: far from the ends of the ranges where feedparser and `_date` give up."""
    if m := _RFC822.fullmatch(value):
        day, month, year, hour, minute, second, sign, tzh, tzm = m.groups()
        numbers = (int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second))
    elif m := _W3CDTF.fullmatch(value):
        year, month, day, hour, minute, second, sign, tzh, tzm = m.groups()
        numbers = (int(year), int(month), int(day), int(hour), int(minute), int(second))
    else:
        raise _UnsureError
    try:
        stamp = datetime(*numbers)  # noqa: DTZ001  # feedparser's naive stamp, shifted to UTC below
        if offset := int(tzh or 0) * 3600 + int(tzm or 0) * 60:
            stamp = stamp + timedelta(0, offset) if sign == "-" else stamp - timedelta(0, offset)
        return stamp.utctimetuple()
    except (ValueError, OverflowError) as exc:
        raise _UnsureError from exc  # feedparser would go on to its other handlers


# --- documents ---------------------------------------------------------------------------------

_TITLE = frozenset({"title", "dc_title"})
_LANGUAGE = frozenset({"language", "dc_language"})
_PUBLISHED = frozenset({"pubdate", "published", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_CREATED = frozenset({"created", "dcterms_created"})
_DATES = {
    **dict.fromkeys(_PUBLISHED, "published_parsed"),
    **dict.fromkeys(_UPDATED, "updated_parsed"),
    **dict.fromkeys(_CREATED, "created_parsed"),
}
_RSS_FIELDS = {
    **dict.fromkeys(_TITLE, "title"),
    "link": "link",
    "guid": "id",
    "id": "id",
    "description": "summary",
    "dc_description": "summary",
    "content_encoded": "content",
    **_DATES,
}
_ATOM_FIELDS = {
    **dict.fromkeys(_TITLE, "title"),
    "id": "id",
    "guid": "id",
    "summary": "summary",
    "content": "content",
    **_DATES,
}
# Elements feedparser handles in an entry without touching a field the monitor reads.
_HARMLESS = frozenset(
    {
        "author", "dc_author", "dc_creator", "itunes_author", "contributor", "dc_contributor",
        "name", "email", "uri", "url", "homepage", "category", "dc_subject", "keywords", "tags",
        "media_category", "media_keywords", "itunes_keywords", "itunes_category", "enclosure",
        "media_content", "media_thumbnail", "media_group", "media_credit", "media_rating",
        "media_restriction", "media_license", "media_player", "itunes_image", "itunes_explicit",
        "itunes_block", "rights", "copyright", "dc_rights", "expirationdate", "dcterms_valid",
        "source", "width", "height",
    }
)  # fmt: skip
# Where feedparser stores an element it has no handler for: under its key, which its dict may rename
# (`date_parsed` is `updated_parsed`). These it must not be.
_READ_KEYS = {
    "title", "title_detail", "summary", "summary_detail", "content", "link", "links", "id",
    "published_parsed", "updated_parsed", "created_parsed", "language",
}  # fmt: skip
_RENAMED = {key: value if isinstance(value, str) else value[0] for key, value in FeedParserDict.keymap.items()}
_READ = frozenset(_READ_KEYS | {key for key, value in _RENAMED.items() if value in _READ_KEYS})
# In the feed (outside entries): what would change the feed's title or language, or make entries.
_FEED_LEVEL = _TITLE | _LANGUAGE | {"item", "entry", "channel", "feed", "rss", "image", "textinput", "source"}
_IMAGE_CHILDREN = frozenset({"title", "link", "description", "url", "href", "width", "height"})
_TEXTINPUT_CHILDREN = frozenset({"title", "link", "description", "name"})
_RISKY_PREFIXES = ("georss", "gml_", "where", "psc_", "media_title", "media_description")


@dataclass
class _Reader:
    names: _Names
    base_lang: str | None  # the Content-Language header, where feedparser starts

    def read(self, root: Any) -> dict[str, Any]:
        key = self.names.key(root)
        attrs = self.names.attrs(root)
        lang = self._lang(attrs, self.base_lang)
        language = self.base_lang.replace("_", "-") if self.base_lang else None
        if lang and key in ("rss", "feed"):
            language = lang.replace("_", "-")
        if key == "rss":
            children = list(root)
            if len(children) != 1 or self.names.key(children[0]) != "channel" or self._bare(children[0]) is None:
                raise _UnsureError
            return self._feed(children[0], "rss", "item", lang, language)
        # Declaring RSS 1.0 or 0.9 could set feedparser's version before the Atom namespace does.
        if key == "feed" and root.tag == f"{{{_ATOM}}}feed" and not self.names.uris & _VERSION_URIS:
            return self._feed(root, "atom10", "entry", lang, language)
        raise _UnsureError

    def _feed(self, top: Any, version: str, entry_key: str, lang: str | None, language: str | None) -> dict[str, Any]:
        lang = self._lang(self.names.attrs(top), lang) if top.getparent() is not None else lang
        entries: list[Entry] = []
        title: str | None = None
        seen: set[str] = set()
        for child in top:
            key = self.names.key(child)
            if key == entry_key:
                entries.append(self._entry(child, version, lang))
            elif key in _TITLE or key in _LANGUAGE:
                group = "title" if key in _TITLE else "language"
                if group in seen or len(child):
                    raise _UnsureError
                seen.add(group)
                if group == "title":
                    title = self._text(child, "text/plain", version, exact=True)[0]
                else:
                    language = _finish((child.text or "").strip())
            elif key in ("image", "textinput"):
                allowed = _IMAGE_CHILDREN if key == "image" else _TEXTINPUT_CHILDREN
                if any(self.names.key(c) not in allowed or len(c) for c in child):
                    raise _UnsureError
            else:
                self._check_subtree(child, key, _FEED_LEVEL)
        return {
            "bozo": False,
            "version": version,
            "feed": {"title": title, "language": language},
            "entries": entries,
        }

    def _check_subtree(self, el: Any, key: str, refused: frozenset[str]) -> None:
        """Refuse what feedparser would read into a field from anywhere under `el`."""
        for node in el.iter():
            k = key if node is el else self.names.key(node)
            if k in refused or k.startswith(_RISKY_PREFIXES):
                raise _UnsureError

    def _check_harmless(self, el: Any, key: str) -> None:
        for node in el.iter():
            k = key if node is el else self.names.key(node)
            if (k not in _HARMLESS) if k in _HANDLED else (k in _READ or k.startswith(_RISKY_PREFIXES)):
                raise _UnsureError

    def _entry(self, item: Any, version: str, lang: str | None) -> Entry:
        attrs = self._bare(item)
        if attrs is None:
            raise _UnsureError  # rdf:about, href, lastmod: feedparser reads them into the entry
        lang = self._lang(attrs, lang)
        rss = version != "atom10"
        fields = _RSS_FIELDS if rss else _ATOM_FIELDS
        found: dict[str, Any] = {}
        links: list[dict[str, str]] = []
        for child in item:
            key = self.names.key(child)
            name = fields.get(key)
            if name is not None:
                if name in found:
                    raise _UnsureError  # feedparser's rules for a second one depend on order and depth
                found[name] = child
            elif key == "link" and not rss:
                links.append(self._atom_link(child))
            else:
                self._check_harmless(child, key)
        entry: Entry = {}
        # With both, the longer is kept: their markup must be what feedparser stores, to the letter.
        exact = "summary" in found and "content" in found
        for name in ("title", "summary", "content"):
            if name in found:
                self._text_field(entry, name, found[name], version, lang, exact and name != "title")
        # `_date` takes the first of these there is: only that one must be read (and right).
        for name in ("published_parsed", "updated_parsed", "created_parsed"):
            if name in found:
                entry[name] = _date(_finish(self._plain(found[name])))
                break
        if rss:
            self._rss_links(entry, found)
        else:
            self._atom_links(entry, found, links)
        return entry

    def _text_field(self, entry: Entry, name: str, el: Any, version: str, lang: str | None, exact: bool) -> None:
        rss = version != "atom10"
        default = "text/html" if rss and name != "title" else "text/plain"
        value, content_type = self._text(el, default, version, exact)
        if name == "content":
            entry["content"] = [{"value": value}]
            if content_type in _HTML_TYPES or content_type == "text/plain":
                entry.setdefault("summary", value)
            return
        entry[name] = value
        attrs = self.names.attrs(el)
        field_lang = self._lang(attrs, lang)
        entry[f"{name}_detail"] = {"language": field_lang.replace("_", "-") if field_lang else None}

    def _text(self, el: Any, default: str, version: str, exact: bool) -> tuple[str, str]:
        """A text construct's value and type, as feedparser's push_content/pop leave them."""
        attrs = self.names.attrs(el)
        if version == "atom10":
            content_type = _content_type(attrs.get("type", default))
            if content_type not in ("text/plain", *_HTML_TYPES) or "mode" in attrs or "src" in attrs:
                raise _UnsureError  # base64, other media types, remote content
        elif "type" in attrs or "mode" in attrs:
            raise _UnsureError
        else:
            content_type = default
        if content_type == "application/xhtml+xml":
            raw = self._xhtml(el)
        else:
            raw = self._plain(el)
            if content_type == "text/plain" and version != "atom10" and _FeedParserMixin.looks_like_html(raw):
                content_type = "text/html"  # feedparser's guess for RSS text that looks like HTML
        if content_type in _HTML_TYPES:
            return _html(raw, content_type, exact), content_type
        return _finish(raw), content_type

    @staticmethod
    def _plain(el: Any) -> str:
        if len(el):
            raise _UnsureError  # feedparser would take the elements for inline XHTML
        return str(el.text or "").strip()

    def _xhtml(self, el: Any) -> str:
        """Inline XHTML serialised as feedparser does, with its unwrapping of one enclosing div."""
        pieces = [escape(el.text)] if el.text else []
        for child in el:
            self._serialise(child, pieces)
        while len(pieces) > 1 and not pieces[-1].strip():
            del pieces[-1]
        while len(pieces) > 1 and not pieces[0].strip():
            del pieces[0]
        if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and pieces[-1] == "</div>":
            depth = 0
            for piece in pieces[:-1]:
                if piece.startswith("</"):
                    depth -= 1
                    if depth == 0:
                        break
                elif piece.startswith("<") and not piece.endswith("/>"):
                    depth += 1
            else:
                pieces = pieces[1:-1]
        return "".join(pieces).strip()

    def _serialise(self, el: Any, pieces: list[str]) -> None:
        key = self.names.key(el)
        tag = key.removeprefix("xhtml_")
        if tag == key or tag in ("body", "svg", "math"):
            raise _UnsureError  # feedparser runs end handlers inside content, and treats these apart
        attrs = "".join(f' {k}="{escape(v, {chr(34): "&quot;"})}"' for k, v in self.names.attrs(el).items())
        pieces.append(f"<{tag}{attrs}>")
        if el.text:
            pieces.append(escape(el.text))
        for child in el:
            self._serialise(child, pieces)
        pieces.append(f"</{tag}>")
        if el.tail:
            pieces.append(escape(el.tail))

    def _rss_links(self, entry: Entry, found: Mapping[str, Any]) -> None:
        if "id" in found:
            guid, is_link = self._guid(found["id"])
            entry["id"] = guid
            if is_link:
                entry["link"] = guid
        if "link" in found:
            el = found["link"]
            if self._bare(el) is None:
                raise _UnsureError  # href, url, rel...: feedparser reads it as an Atom link
            link = _finish(_resolve(self._plain(el)))
            if "&" in link:  # feedparser's repair of query strings
                link = _LINK_REF.sub(r"&\g<1>", link.replace("&amp;", "&"))
            entry["link"] = link
            entry["links"] = [{"rel": "alternate", "type": "text/html", "href": link}]
        if "link" in entry:
            entry["link"] = _absolute(entry["link"])

    def _atom_links(self, entry: Entry, found: Mapping[str, Any], links: list[dict[str, str]]) -> None:
        if "id" in found:
            guid, is_link = self._guid(found["id"])
            entry["id"] = guid
            if is_link:
                entry["link"] = guid
        for link in links:
            if link["rel"] == "alternate" and _content_type(link["type"]) in _HTML_TYPES:
                entry["link"] = link["href"]
        entry["links"] = links
        for link in links:
            if link["rel"] == "alternate":
                _absolute(link["href"])  # `_link` may take it from the list
        if entry.get("link"):
            _absolute(entry["link"])

    def _guid(self, el: Any) -> tuple[str, bool]:
        is_link = self.names.attrs(el).get("ispermalink", "true") == "true"
        raw = self._plain(el)
        value = _finish(_resolve(raw) if is_link and raw else raw)
        if not value:
            raise _UnsureError
        return value, is_link

    def _atom_link(self, el: Any) -> dict[str, str]:
        attrs = self.names.attrs(el)
        if len(el) or not attrs.get("href") or "url" in attrs or "uri" in attrs:
            raise _UnsureError
        rel = attrs.get("rel", "alternate")
        default_type = "application/atom+xml" if rel == "self" else "text/html"
        return {"rel": rel, "type": attrs.get("type", default_type), "href": _resolve(attrs["href"])}

    def _bare(self, el: Any) -> dict[str, str] | None:
        """The attributes of an element that should carry none but a language, else None."""
        attrs = self.names.attrs(el)
        return attrs if attrs.keys() <= {"xml:lang", "lang"} else None

    @staticmethod
    def _lang(attrs: Mapping[str, str], inherited: str | None) -> str | None:
        """feedparser's language at an element: xml:lang (or lang), "" for none, else the parent's."""
        lang = attrs.get("xml:lang", attrs.get("lang"))
        if lang == "":
            return None
        return inherited if lang is None else lang
