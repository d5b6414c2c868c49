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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from feedparser.encodings import convert_to_utf8
from feedparser.mixin import _FeedParserMixin
from feedparser.util import FeedParserDict
from lxml import etree  # type: ignore[import-untyped]  # no stubs in the dev extra

from monitor.collect.parse.feed_names import ATOM, HANDLED, VERSION_URIS, Names
from monitor.collect.parse.feed_values import (
    HTML_TYPES,
    LINK_REF,
    UnsureError,
    absolute,
    feed_date,
    finish,
    markup_value,
    media_type,
    resolve,
)

Entry = dict[str, Any]


def parse(content: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """feedparser's result for the fields the monitor uses, or None when not sure of it.

    `headers` are the response headers passed to feedparser (content-type, -location, -language)."""
    try:
        data = _utf8(content, headers)
        root = _tree(data)
        reader = _Reader(Names.of(root, data), headers.get("content-language") or None)
        return reader.read(root)
    except UnsureError:
        return None


# --- bytes to tree ---------------------------------------------------------------------------

# xml:base, or a plain `base` attribute, which feedparser also takes for one.
_BASE_ATTRIBUTE = re.compile(rb"[\s:]base\s*=", re.IGNORECASE)


def _utf8(content: bytes, headers: Mapping[str, str]) -> bytes:
    """The document as feedparser decodes it (same function), in UTF-8 with a declaration to say so."""
    if not content or headers.get("content-location"):
        raise UnsureError  # empty: feedparser says "not a feed"; a location: links are resolved against it
    result: dict[str, Any] = {}
    data = convert_to_utf8(dict(headers), content, result)
    if result.get("bozo") or not result.get("encoding"):
        raise UnsureError  # a non-XML media type or an encoding override: feedparser flags the feed
    return bytes(data)


def _tree(data: bytes) -> Any:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise UnsureError
    if b"base" in data.lower() and _BASE_ATTRIBUTE.search(data):  # lower() first: the regex is slow
        raise UnsureError
    # One parser per document: lxml parsers are not to be shared between threads.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise UnsureError from exc
    if len(parser.error_log) or root.getroottree().docinfo.doctype:
        raise UnsureError  # libxml2 recovered from something expat may reject
    return root


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
    names: Names
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
                raise UnsureError
            return self._feed(children[0], "rss", "item", lang, language)
        # Declaring RSS 1.0 or 0.9 could set feedparser's version before the Atom namespace does.
        if key == "feed" and root.tag == f"{{{ATOM}}}feed" and not self.names.uris & VERSION_URIS:
            return self._feed(root, "atom10", "entry", lang, language)
        raise UnsureError

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
                    raise UnsureError
                seen.add(group)
                if group == "title":
                    title = self._text(child, "text/plain", version, exact=True)[0]
                else:
                    language = finish((child.text or "").strip())
            elif key in ("image", "textinput"):
                allowed = _IMAGE_CHILDREN if key == "image" else _TEXTINPUT_CHILDREN
                if any(self.names.key(c) not in allowed or len(c) for c in child):
                    raise UnsureError
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
                raise UnsureError

    def _check_harmless(self, el: Any, key: str) -> None:
        for node in el.iter():
            k = key if node is el else self.names.key(node)
            if (k not in _HARMLESS) if k in HANDLED else (k in _READ or k.startswith(_RISKY_PREFIXES)):
                raise UnsureError

    def _entry(self, item: Any, version: str, lang: str | None) -> Entry:
        attrs = self._bare(item)
        if attrs is None:
            raise UnsureError  # rdf:about, href, lastmod: feedparser reads them into the entry
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
                    raise UnsureError  # feedparser's rules for a second one depend on order and depth
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
        # `feed_date` takes the first of these there is: only that one must be read (and right).
        for name in ("published_parsed", "updated_parsed", "created_parsed"):
            if name in found:
                entry[name] = feed_date(finish(self._plain(found[name])))
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
            if content_type in HTML_TYPES or content_type == "text/plain":
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
            content_type = media_type(attrs.get("type", default))
            if content_type not in ("text/plain", *HTML_TYPES) or "mode" in attrs or "src" in attrs:
                raise UnsureError  # base64, other media types, remote content
        elif "type" in attrs or "mode" in attrs:
            raise UnsureError
        else:
            content_type = default
        if content_type == "application/xhtml+xml":
            raw = self._xhtml(el)
        else:
            raw = self._plain(el)
            if content_type == "text/plain" and version != "atom10" and _FeedParserMixin.looks_like_html(raw):
                content_type = "text/html"  # feedparser's guess for RSS text that looks like HTML
        if content_type in HTML_TYPES:
            return markup_value(raw, content_type, exact), content_type
        return finish(raw), content_type

    @staticmethod
    def _plain(el: Any) -> str:
        if len(el):
            raise UnsureError  # feedparser would take the elements for inline XHTML
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
            raise UnsureError  # feedparser runs end handlers inside content, and treats these apart
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
                raise UnsureError  # href, url, rel...: feedparser reads it as an Atom link
            link = finish(resolve(self._plain(el)))
            if "&" in link:  # feedparser's repair of query strings
                link = LINK_REF.sub(r"&\g<1>", link.replace("&amp;", "&"))
            entry["link"] = link
            entry["links"] = [{"rel": "alternate", "type": "text/html", "href": link}]
        if "link" in entry:
            entry["link"] = absolute(entry["link"])

    def _atom_links(self, entry: Entry, found: Mapping[str, Any], links: list[dict[str, str]]) -> None:
        if "id" in found:
            guid, is_link = self._guid(found["id"])
            entry["id"] = guid
            if is_link:
                entry["link"] = guid
        for link in links:
            if link["rel"] == "alternate" and media_type(link["type"]) in HTML_TYPES:
                entry["link"] = link["href"]
        entry["links"] = links
        for link in links:
            if link["rel"] == "alternate":
                absolute(link["href"])  # `_link` may take it from the list
        if entry.get("link"):
            absolute(entry["link"])

    def _guid(self, el: Any) -> tuple[str, bool]:
        is_link = self.names.attrs(el).get("ispermalink", "true") == "true"
        raw = self._plain(el)
        value = finish(resolve(raw) if is_link and raw else raw)
        if not value:
            raise UnsureError
        return value, is_link

    def _atom_link(self, el: Any) -> dict[str, str]:
        attrs = self.names.attrs(el)
        if len(el) or not attrs.get("href") or "url" in attrs or "uri" in attrs:
            raise UnsureError
        rel = attrs.get("rel", "alternate")
        default_type = "application/atom+xml" if rel == "self" else "text/html"
        return {"rel": rel, "type": attrs.get("type", default_type), "href": resolve(attrs["href"])}

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
