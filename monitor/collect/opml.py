"""OPML, the way feed readers hand over their subscriptions: read an OPML file into the feeds it
lists, decide which of them sources.toml lacks, write those as `[[source]]` tables, and write
sources.toml's feeds as OPML 2.0 (http://opml.org/spec2.opml). Pure functions but for
`read_opml_file` and `append_sources`, which the `sources import` command calls.

An OPML file is untrusted XML: it is parsed without DTDs, entities or network (no XXE, no entity
expansion bombs). A file that is not OPML is one error naming the file and line; an outline that
is not a usable feed (no `xmlUrl`, not http/https) is skipped and reported, not an error: feed
readers export folders, podcasts and dead entries alike.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]  # no stubs in the dev extra

from monitor.errors import ConfigError
from monitor.settings import Source, http_url_problem
from monitor.text.normalize import canonical_url

_LANGS = {"en": "en", "zh-hans": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hant": "zh-Hant"}
_LANGS.update({"zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant"})
_ID_MAX = 64


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """An outline with an `xmlUrl`: the feed's URL, its name, its site, its language, its line."""

    url: str
    name: str | None
    site: str | None
    lang: str | None
    line: int | None


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import does: the sources to add, and each outline skipped with why."""

    added: tuple[Source, ...]
    skipped: tuple[tuple[OpmlFeed, str], ...]


def read_opml_file(path: Path) -> list[OpmlFeed]:
    """The feeds of an OPML file; ConfigError (file and line) when it is not OPML."""
    try:
        content = path.read_bytes()
    except OSError as e:
        raise ConfigError(path, f"cannot read: {e.strerror}") from e
    return parse_opml(content, path)


def parse_opml(content: bytes, path: Path | str = "<opml>") -> list[OpmlFeed]:
    """Every outline with an `xmlUrl`, at any depth (folders are flattened), in file order."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as e:
        raise ConfigError(path, f"not OPML: the XML is broken ({e.msg})", line=e.lineno or None) from e
    if root is None or etree.QName(root).localname != "opml":
        found = etree.QName(root).localname if root is not None else "nothing"
        raise ConfigError(path, f"not OPML: the root element is <{found}>, not <opml>", line=_line(root))
    body = root.find("body")
    if body is None:
        raise ConfigError(path, "not OPML: no <body> element", line=_line(root))
    return [_feed(o) for o in body.iter("outline") if (o.get("xmlUrl") or o.get("xmlurl") or "").strip()]


def _feed(outline: etree._Element) -> OpmlFeed:
    url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
    name = " ".join((outline.get("title") or outline.get("text") or "").split()) or None
    site = (outline.get("htmlUrl") or "").strip() or None
    lang = _LANGS.get((outline.get("language") or "").strip().lower())
    if lang is None and (outline.get("language") or "").lower().startswith("en"):
        lang = "en"
    return OpmlFeed(url, name, site, lang, _line(outline))


def _line(element: etree._Element | None) -> int | None:
    return element.sourceline if element is not None else None


def plan_import(feeds: Iterable[OpmlFeed], existing: Sequence[Source]) -> ImportPlan:
    """The sources to add for the feeds sources.toml lacks (by canonical URL), with fresh ids;
    the others skipped with why."""
    known = {canonical_url(s.url) or s.url: s.id for s in existing}
    taken = {s.id for s in existing}
    added: list[Source] = []
    skipped: list[tuple[OpmlFeed, str]] = []
    for feed in feeds:
        key = canonical_url(feed.url) or feed.url
        if problem := http_url_problem(feed.url):
            skipped.append((feed, f"its URL {problem}"))
        elif key in known:
            skipped.append((feed, f"already a source ({known[key]})"))
        else:
            source_id = fresh_id(feed, taken)
            taken.add(source_id)
            known[key] = source_id
            added.append(
                Source.model_validate(
                    {"id": source_id, "url": feed.url, "kind": "feed", "name": feed.name, "lang": feed.lang}
                )
            )
    return ImportPlan(tuple(added), tuple(skipped))


def fresh_id(feed: OpmlFeed, taken: set[str]) -> str:
    """A source id from the feed's name (ASCII letters and digits), else its host and path; made
    unique with -2, -3, …"""
    base = _slug(feed.name or "") or _slug(_host_path(feed.url)) or "feed"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = base[: _ID_MAX - len(suffix)] + suffix
    return candidate


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:_ID_MAX].rstrip("-")


def _host_path(url: str) -> str:
    rest = url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    host = host.rpartition("@")[2].split(":")[0].removeprefix("www.")
    return f"{host} {path.split('?')[0]}"


def source_toml(source: Source) -> str:
    """A `[[source]]` table; strings written as TOML basic strings (JSON's escapes are TOML's)."""
    lines = ["[[source]]", f"id = {_string(source.id)}"]
    if source.name:
        lines.append(f"name = {_string(source.name)}")
    lines += [f"url = {_string(source.url)}", f"kind = {_string(source.kind)}"]
    if source.lang:
        lines.append(f"lang = {_string(source.lang)}")
    return "\n".join(lines) + "\n"


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def appended_text(current: str, sources: Sequence[Source], origin: str, now: datetime) -> str:
    """sources.toml with the new tables after what it holds (its comments kept as they are)."""
    head = current if not current or current.endswith("\n") else current + "\n"
    note = f"\n# Imported from {' '.join(origin.split())} on {now:%Y-%m-%d} by `monitor sources import`\n"
    return head + note + "\n".join(source_toml(s) for s in sources)


def replace_checked(path: Path, text: str, check: Callable[[Path], object]) -> None:
    """Write `text` beside `path`, `check` it there (it raises on a problem: nothing is changed),
    then rename it over `path`: a crash leaves the old file or the new one, whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        check(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def render_opml(sources: Iterable[Source], *, title: str, now: datetime) -> bytes:
    """The feed sources as OPML 2.0: one `rss` outline each, with its name, URL and language."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(now)
    body = etree.SubElement(root, "body")
    for source in sources:
        if source.kind != "feed":
            continue
        attrs = {"type": "rss", "text": source.label, "title": source.label, "xmlUrl": source.url}
        if source.lang:
            attrs["language"] = source.lang
        etree.SubElement(body, "outline", attrs)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
