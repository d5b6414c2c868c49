"""Normal forms: canonical URLs, plain text, the folded text used for matching, dates, language.

Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

from monitor.models import ItemIntent, ParsedItem

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
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def canonical_url(url: str | None) -> str | None:
    """The form two links to one page share: lower-case scheme and host, no default port,
    no fragment, no tracking parameters, sorted query. None for what is not http(s)."""
    if not url:
        return None
    url = _CONTROL.sub("", url).strip()
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
    path = _ESCAPE.sub(lambda m: m[0].upper(), quote(parts.path, safe="/%:@!$&'()*+,;=~-._")) or "/"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query), quote_via=quote), ""))


def html_to_text(markup: str | None) -> str:
    """Plain, whitespace-normalised text of an HTML fragment (or of plain text)."""
    if not markup:
        return ""
    if "<" in markup or "&" in markup:
        markup = BeautifulSoup(markup, "lxml").get_text(" ")
    return clean_text(markup)


def clean_text(text: str) -> str:
    """Drop control characters and NULs, collapse white space."""
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_t2s().convert(text))  # type: ignore[attr-defined]


def fold_text(text: str) -> str:
    """The one normalised form for matching and dedupe: traditional → simplified,
    full-width → half-width (NFKC), case-folded, white space collapsed."""
    text = unicodedata.normalize("NFKC", text)
    if _CJK.search(text):
        text = to_simplified(text)
    return _SPACE.sub(" ", text.casefold()).strip()


def detect_lang(text: str, hint: str | None = None) -> str:
    """`en`, `zh-Hans` or `zh-Hant`: Chinese by its characters, the script by what
    a traditional → simplified conversion changes."""
    han = _CJK.findall(text)
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
    published_at = published_at.astimezone(UTC)
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
