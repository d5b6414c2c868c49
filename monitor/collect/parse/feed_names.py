"""Element names as feedparser knows them (namespace prefix and lower-cased name), for
`monitor.collect.parse.fastfeed`: which namespaces it maps, and which names are safe to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from feedparser.mixin import _FeedParserMixin
from lxml import etree  # type: ignore[import-untyped]  # no stubs in the dev extra

from monitor.collect.parse.feed_values import UnsureError

# --- element names as feedparser knows them ----------------------------------------------------

_MATCH: dict[str, str] = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_PREFIXES = frozenset(prefix.lower() for prefix in _MATCH.values() if prefix)
ATOM = "http://www.w3.org/2005/Atom"
# Namespaces whose declaration sets feedparser's version before the root element does.
VERSION_URIS = frozenset({"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"})
_XLINK = "http://www.w3.org/1999/xlink"
HANDLED = frozenset(
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
class Names:
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
    def of(cls, root: Any, data: bytes) -> Names:
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
            raise UnsureError  # feedparser copies its declaration into the attributes
        self.uris.add(uri.lower())
        known = _known(uri)
        if prefix is None:
            return  # a default namespace: its elements are named by their namespace alone
        if known is None:
            # feedparser finds the prefix of an unknown namespace by the namespace, among those met;
            # a prefix named like one of its own (thr, dc) gives its elements the same keys here.
            if self.unknown.setdefault(uri, prefix) != prefix or self.rebound.setdefault(prefix, uri) != uri:
                raise UnsureError
            if prefix.lower() in self.prefix_map:
                raise UnsureError  # its elements' keys would depend on whether that was declared yet
        else:
            lookups = _PREFIXES | {p.lower() for p in self.unknown.values()}
            if prefix in lookups and prefix != known:
                raise UnsureError  # an element's key would depend on whether this was declared yet
            self.prefix_map[prefix] = known

    def key(self, el: Any) -> str:
        tag = el.tag
        found = self.keys.get(tag)
        if found is None:
            found = self.keys[tag] = self._key(tag)
        return found

    def _key(self, tag: str) -> str:
        if not isinstance(tag, str):
            raise UnsureError
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
