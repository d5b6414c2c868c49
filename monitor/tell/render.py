"""Render a digest from Jinja2 templates: Markdown, the e-mail's subject, text and HTML parts,
and the Atom feed. Untrusted feed text is neutralised in Markdown (`md`), escaped in HTML and
XML (autoescape for `.html.j2` and `.atom.j2` templates), kept on one line without control
characters in plain text (`line`); only http/https links are ever rendered (`safe_url`).

Pure: records in, text out. A template of the same name in the config directory's
`templates/` folder overrides the shipped one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

from monitor.records import StoredItem
from monitor.tell.build import Digest
from monitor.tell.feed import Feed

MARKDOWN, SUBJECT, TEXT, HTML, ATOM = (
    "digest.md.j2",
    "subject.txt.j2",
    "digest.txt.j2",
    "digest.html.j2",
    "feed.atom.j2",
)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")
# C0/C1 controls and the bidirectional overrides that can make text read other than it is.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
RELATION_COLOURS = {"contradicts": "#b42318", "updates": "#b54708", "supports": "#067647"}
STATUS_LABELS = {
    "contested": "contested",
    "updated": "updated",
    "supported": "supported",
    "unchallenged": "unchallenged",
}


def line(value: object) -> str:
    """Untrusted text as plain text: one line, no control or direction-override characters."""
    return re.sub(r"\s+", " ", _INVISIBLE.sub("", str(value or ""))).strip()


def md_text(value: object) -> str:
    """Untrusted text made inert in Markdown: one line, every markup character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", line(value))


def safe_url(value: object) -> str | None:
    """An http(s) URL fit for a link target, or None."""
    url = str(value or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=":/?#@!$&'*+,;=%~-._")


def item_url(item: StoredItem) -> str | None:
    """The item's link: its canonical URL (tracking parameters gone), else the feed's, if http(s)."""
    return safe_url(item.canonical_url) or safe_url(item.url)


def md_link(text: object, url: object) -> str:
    target = safe_url(url)
    label = md_text(text) or "(untitled)"
    return f"[{label}](<{target}>)" if target else label


def day(when: datetime | None) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d}" if when else "never"


def minute(when: datetime | None) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M}" if when else "never"


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def html_payload(value: Any) -> str:
    """Rendered HTML as the text of an XML element: a plain string, so autoescape escapes it once."""
    return str(value)  # str() of Markup is a plain str


def environment(config_dir: Path | None = None) -> Environment:
    loaders: list[BaseLoader] = []
    if config_dir is not None and (config_dir / "templates").is_dir():
        loaders.append(FileSystemLoader(config_dir / "templates"))
    loaders.append(PackageLoader("monitor.tell", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=md_text,
        md_link=md_link,
        safe_url=safe_url,
        item_url=item_url,
        line=line,
        day=day,
        minute=minute,
        rfc3339=rfc3339,
        plural=plural,
        html_payload=html_payload,
    )
    env.globals.update(relation_colours=RELATION_COLOURS, status_labels=STATUS_LABELS)
    return env


def _autoescape(name: str | None) -> bool:
    """HTML and XML templates escape every value; Markdown and text ones use `md` and `line`."""
    return bool(name) and str(name).lower().endswith((".html", ".html.j2", ".xml", ".atom", ".atom.j2"))


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_markdown(digest: Digest, env: Environment) -> str:
    return env.get_template(MARKDOWN).render(digest=digest)


def render_email(digest: Digest, env: Environment, *, prefix: str = "") -> RenderedEmail:
    """The subject (one line), the plain-text part and the HTML part of a digest's e-mail."""
    subject = line(env.get_template(SUBJECT).render(digest=digest, prefix=prefix))
    text = env.get_template(TEXT).render(digest=digest)
    html = env.get_template(HTML).render(digest=digest, subject=subject)
    return RenderedEmail(subject, text, html)


def render_feed(feed: Feed, env: Environment) -> str:
    return env.get_template(ATOM).render(feed=feed)
