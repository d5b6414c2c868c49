"""Normal forms: canonical URLs, plain text, the folded text used for matching, dates, language.

Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from lxml import etree  # type: ignore[import-untyped]  # no stubs in the dev extra

from monitor.records import ItemIntent, ParsedItem

warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "spm",
        "scm",
        "igshid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref_src",
        "cmpid",
        "ncid",
        "wt.mc_id",
        "share_token",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "__twitter", "ga_")
DEFAULT_PORTS = {"http": 80, "https": 443}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
# The one definition of a Han character (either script): CJK unified ideographs with extension A,
# compatibility ideographs, extensions B-G. Every module that tells Chinese text apart uses these.
HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HAN = re.compile(f"[{HAN_CLASS}]")
HAN_RUN = re.compile(f"[{HAN_CLASS}]+")


_ASCII_SPACE = " \t\r\n\f\v"


def canonical_url(url: str | None) -> str | None:
    """The form two links to one page share: lower-case scheme and host, no default port,
    no fragment, no tracking parameters, sorted query. None for what is not http(s)."""
    if not url:
        return None
    url = _CONTROL.sub("", url).strip(_ASCII_SPACE)  # ASCII space only: a trailing U+0085 is data
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Encode what needs it, keep existing escapes (so %2F stays distinct from /), upper-case them.
    # ASCII white space ending a component is dropped, as at the end of the whole link: a link
    # is the same whether a fragment or a tracking parameter followed the space or not.
    raw_path = parts.path.rstrip(_ASCII_SPACE)
    path = _ESCAPE.sub(lambda m: m[0].upper(), quote(raw_path, safe="/%:@!$&'()*+,;=~-._")) or "/"
    query = [
        (k.strip(_ASCII_SPACE), v.strip(_ASCII_SPACE))
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query), quote_via=quote), ""))


def html_to_text(markup: str | None) -> str:
    """Plain, whitespace-normalised text of an HTML fragment (or of plain text)."""
    if not markup:
        return ""
    if "<" in markup or "&" in markup:
        markup = markup_text(markup)
    return clean_text(markup)


# BeautifulSoup's get_text() leaves out the strings in these elements (and comments, processing
# instructions and doctypes): scripts, styles, templates, ruby annotations.
_HIDDEN_TEXT = frozenset({"script", "style", "template", "rt", "rp"})


def markup_text(markup: str) -> str:
    """The text of HTML markup as `BeautifulSoup(markup, "lxml").get_text(" ")` gives it (a test
    compares them on the corpora and on generated markup), from the same lxml parser without
    BeautifulSoup's tree: feed items carry markup in nearly every summary, and BeautifulSoup was
    a third of the time spent parsing a feed."""
    try:
        # lxml's own tree is fastest (ten times BeautifulSoup), but it silently drops what lies
        # deeper than 255 elements; markup with that many tags goes through the parser's events.
        text = _tree_text(markup) if markup.count("<") < _TREE_MAX_TAGS else _event_text(markup)
    except (etree.LxmlError, ValueError, UnicodeError, LookupError):  # what BeautifulSoup retries
        text = None
    return str(BeautifulSoup(markup, "lxml").get_text(" ")) if text is None else text


_TREE_MAX_TAGS = 200


def _tree_text(markup: str) -> str | None:
    parser = etree.HTMLParser(recover=True)
    parser.feed(markup)
    root = parser.close()
    if root is None:
        return None
    # markup after `</html>` makes more top-level elements, siblings of the root
    tops = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    return " ".join(text for top in tops for text in _tree_strings(top))


def _tree_strings(top: etree._Element) -> Iterator[str]:
    """The text and tails under `top` in document order but for hidden text, then its tail."""
    stack: list[tuple[etree._Element | str, bool]] = [(top.tail, False)] if top.tail else []
    stack.append((top, False))
    while stack:
        node, hidden = stack.pop()
        if isinstance(node, str):
            yield node
            continue
        if not isinstance(node.tag, str):  # a comment or processing instruction: its tail only
            continue
        hidden = hidden or node.tag in _HIDDEN_TEXT
        if node.text and not hidden:
            yield node.text
        for child in reversed(node):  # pushed last to first, so popped first to last
            if child.tail and not hidden:
                stack.append((child.tail, hidden))
            stack.append((child, hidden))


def _event_text(markup: str) -> str:
    target = _TextTarget()
    parser = etree.HTMLParser(target=target, recover=True)
    parser.feed(markup)
    return str(parser.close())


class _TextTarget:
    """An lxml parser target collecting text as BeautifulSoup does: consecutive data is one string,
    any other event ends it; strings inside a hidden element are dropped."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.pending: list[str] = []  # data since the last other event
        self.open: list[bool] = []  # per open element: does it hide its text
        self.hidden = 0

    def _end_string(self) -> None:
        if self.pending:
            if not self.hidden:
                self.strings.append("".join(self.pending))
            self.pending = []

    def start(self, tag: str, attrib: object, nsmap: object = None) -> None:
        self._end_string()
        hides = tag in _HIDDEN_TEXT
        self.open.append(hides)
        self.hidden += hides

    def end(self, tag: str) -> None:
        self._end_string()
        if self.open and self.open.pop():
            self.hidden -= 1

    def data(self, text: str) -> None:
        self.pending.append(text)

    def comment(self, text: str) -> None:
        self._end_string()

    def pi(self, target: str, data: str | None = None) -> None:
        self._end_string()

    def doctype(self, *args: object) -> None:
        self._end_string()

    def close(self) -> str:
        self._end_string()
        return " ".join(self.strings)


def clean_text(text: str) -> str:
    """Drop control characters and NULs, collapse white space."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def clean_paragraphs(text: str) -> str:
    """`clean_text` of each line, one paragraph a line, empty lines dropped. An article's text
    keeps its paragraphs: the judge and the stories read it sentence by sentence, and the end of
    a paragraph ends a sentence even where it has no full stop (a Chinese lead, a heading)."""
    return "\n".join(line for line in (clean_text(line) for line in text.splitlines()) if line)


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_t2s().convert(text))  # type: ignore[attr-defined]


def fold_text(text: str) -> str:
    """The one normalised form for matching and dedupe: traditional → simplified,
    full-width → half-width (NFKC), case-folded, white space collapsed. (Called for every item
    several times: the quick check skips most texts' normalisation, and `split` is the regex
    `\\s+`'s white space, a third faster.)"""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if HAN.search(text):
        text = to_simplified(text)
    return " ".join(text.casefold().split())


def detect_lang(text: str, hint: str | None = None) -> str:
    """`en`, `zh-Hans` or `zh-Hant`: Chinese by its characters, the script by what
    a traditional → simplified conversion changes."""
    han = HAN.findall(text)
    if len(han) < 2 or len(han) < 0.05 * len(text):
        if hint and hint.lower().startswith("zh"):
            return _script_of_hint(hint)
        return "en"
    sample = "".join(han[:400])
    changed = sum(a != b for a, b in zip(sample, to_simplified(sample), strict=False))
    return "zh-Hant" if changed >= max(2, len(sample) // 50) else "zh-Hans"


def _script_of_hint(hint: str) -> str:
    h = hint.lower()
    return "zh-Hant" if any(tag in h for tag in ("hant", "-tw", "-hk", "-mo")) else "zh-Hans"


def content_hash(title: str, body: str) -> str:
    """Fingerprint of an item's content: its body when long enough to be distinctive,
    else title and body together."""
    folded = fold_text(body)
    if len(folded) < 80:
        folded = fold_text(title) + "\n" + folded
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


def settle_date(
    published_at: datetime | None, fetched_at: datetime, future_tolerance: timedelta
) -> tuple[datetime, str | None]:
    """A timezone-aware UTC date for an item, and a note when it is not the feed's own:
    missing → the time fetched; too far in the future → clamped to the time fetched."""
    if published_at is None:
        return fetched_at, "missing: time fetched used"
    if published_at.tzinfo is None:
        published_at = published_at.replace(tzinfo=UTC)
    try:
        published_at = published_at.astimezone(UTC)
    except OverflowError:  # an offset that pushes it past year 1 or 9999
        return fetched_at, "out of range: time fetched used"
    if published_at > fetched_at + future_tolerance:
        return fetched_at, f"future date {published_at.isoformat()} clamped to time fetched"
    return published_at, None


MAX_TITLE = 1000
MAX_SUMMARY = 20_000


def to_intents(
    items: list[ParsedItem],
    *,
    source_id: str,
    lang_hint: str | None,
    fetched_at: datetime,
    future_tolerance: timedelta,
) -> list[ItemIntent]:
    """Normalise parsed items into storable ones: canonical URL, bounded clean text,
    a settled UTC date, a language and a content fingerprint."""
    intents = []
    for item in items:
        title = clean_text(item.title)[:MAX_TITLE]
        summary = clean_text(item.summary)[:MAX_SUMMARY]
        published_at, note = settle_date(item.published_at, fetched_at, future_tolerance)
        intents.append(
            ItemIntent(
                source_id=source_id,
                guid=item.guid or "",
                url=item.url,
                canonical_url=canonical_url(item.url),
                title=title,
                summary=summary,
                lang=detect_lang(f"{title} {summary}", item.lang or lang_hint),
                published_at=published_at,
                fetched_at=fetched_at,
                date_note=note,
                content_hash=content_hash(title, summary),
            )
        )
    return intents
