"""Property tests (hypothesis) for the normal forms: URL canonicalisation, text cleaning and
folding, fingerprints, dates, and feed parsing, which must hold for any input: total (never
raising), idempotent, and stable under the variations they exist to erase."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.collect.parse.feeds import parse_feed
from monitor.collect.parse.pages import parse_date
from monitor.text.normalize import (
    TRACKING_PARAMS,
    canonical_url,
    clean_text,
    content_hash,
    detect_lang,
    fold_text,
    html_to_text,
    settle_date,
)

# OpenCC loads its dictionaries on first use; no example may be judged by that.
SETTINGS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# -- URLs built from parts, so that examples are URLs and not only noise ----------------------

hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.sampled_from(["例子.测试", "bücher.example", "127.0.0.1", "[::1]", "EXAMPLE.COM", "news.example."]),
)
segments = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8).map(
    lambda s: s.replace("/", "").replace("?", "").replace("#", "").strip()  # a URL's own edges are trimmed
)
params = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["id", "q", "page", "a", "b", "utm_source", "fbclid", "gclid"]), st.text(max_size=5)),
        st.text(max_size=6),
    ),
    max_size=4,
)


@dataclass(frozen=True)
class Url:
    scheme: str
    host: str
    port: str
    path: str
    query: tuple[tuple[str, str], ...]
    fragment: str

    def text(self, *, upper: bool = False, tracker: tuple[str, str] | None = None, fragment: str | None = None) -> str:
        """The URL; a variant with scheme and host upper-cased, a tracking parameter first in
        the query, the default port spelt out, or another fragment: all what canonicalisation erases."""
        scheme = self.scheme.upper() if upper else self.scheme.lower()
        host = self.host.upper() if upper and self.host.isascii() else self.host
        port = self.port or (":443" if self.scheme.lower() == "https" else ":80") if upper else self.port
        pairs = ((tracker,) if tracker else ()) + self.query
        query = "&".join(f"{k}={v}" for k, v in pairs)
        fragment = self.fragment if fragment is None else fragment
        return f"{scheme}://{host}{port}/{self.path}" + (f"?{query}" if query else "") + fragment


@st.composite
def url_parts(draw: st.DrawFn) -> Url:
    return Url(
        scheme=draw(st.sampled_from(["http", "https", "HTTP", "Https"])),
        host=draw(hosts),
        port=draw(st.sampled_from(["", ":8080"])),
        path="/".join(draw(st.lists(segments, max_size=4))),
        query=tuple(draw(params)),
        fragment=draw(st.sampled_from(["", "#top", "#", "#a/b"])),
    )


def urls() -> st.SearchStrategy[str]:
    return url_parts().map(lambda u: u.text())


@SETTINGS
@given(st.one_of(st.text(), urls()))
@example("http://[::1")
@example("http://host:99999/")
@example("https://\x00example.com/\x7f")
@example("http://例子.测试:0/%zz")
def test_canonical_url_is_total_and_idempotent(url: str) -> None:
    once = canonical_url(url)
    if once is None:
        return
    assert canonical_url(once) == once
    parts = urlsplit(once)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert not parts.fragment and "#" not in once
    assert not CONTROL.search(once) and not re.search(r"\s", once)
    assert once == once.strip()


@SETTINGS
@given(urls())
def test_canonical_url_drops_tracking_and_orders_the_query(url: str) -> None:
    once = canonical_url(url)
    if once is None:
        return
    keys = [k.lower() for k, _ in parse_qsl(urlsplit(once).query, keep_blank_values=True)]
    assert not any(k in TRACKING_PARAMS or k.startswith("utm_") for k in keys)
    pairs = parse_qsl(urlsplit(once).query, keep_blank_values=True)
    assert pairs == sorted(pairs)


TRACKERS = st.sampled_from([("utm_medium", "x"), ("fbclid", "abc"), ("gclid", "1"), ("spm", "a.b"), ("mc_cid", "9")])


@SETTINGS
@given(url_parts(), TRACKERS, st.booleans())
def test_canonical_url_is_stable_under_the_variations_it_erases(
    url: Url, tracker: tuple[str, str], upper: bool
) -> None:
    base = canonical_url(url.text())
    assert canonical_url(url.text(upper=upper, tracker=tracker, fragment="#elsewhere")) == base


# -- text --------------------------------------------------------------------------------------


@SETTINGS
@given(st.text())
@example("a\x00b\x01c\u3000d\r\ne\x7f")
def test_clean_text_is_total_idempotent_and_clean(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once
    assert not CONTROL.search(once)
    assert once == once.strip() and "  " not in once and "\n" not in once and "\t" not in once


@SETTINGS
@given(
    st.one_of(st.text(), st.from_regex(r"(<[a-z]{1,6}( [a-z]+=\"[^\"]*\")?>|&[a-z#0-9]{1,8};?|[^<&]{0,8}|</[a-z]+>)*"))
)
@example("<p>a<script>x</script>&amp;&nbsp;&#0;&#x1;</p>")
@example("<!DOCTYPE")
@example("<![CDATA[x]]>")
@example("&")
def test_html_to_text_is_total_and_gives_clean_text(markup: str) -> None:
    text = html_to_text(markup)
    assert clean_text(text) == text
    assert not CONTROL.search(text)


@SETTINGS
@given(st.text())
@example("輝達　Ｈ２０　ＡＢＣ")
@example("ﬁ ǅ ß İ")
def test_fold_text_is_total_idempotent_and_collapsed(text: str) -> None:
    once = fold_text(text)
    assert fold_text(once) == once
    assert once == once.strip() and "  " not in once


@SETTINGS
@given(st.text(max_size=60), st.text(max_size=200), st.sampled_from([" ", "\u3000", "\n", "\t  "]))
def test_content_hash_ignores_spacing_and_width(title: str, body: str, space: str) -> None:
    spaced = space + body.replace(" ", space) + space
    assert content_hash(title, body) == content_hash(title, spaced)
    assert content_hash(title, body) == content_hash(title, body)
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(title, body))


@SETTINGS
@given(st.text(), st.one_of(st.none(), st.text(max_size=12)))
def test_detect_lang_is_total(text: str, hint: str | None) -> None:
    assert detect_lang(text, hint) in ("en", "zh-Hans", "zh-Hant")


@SETTINGS
@given(
    st.one_of(st.none(), st.datetimes(timezones=st.one_of(st.none(), st.timezones()))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),  # noqa: DTZ001 - bounds are naive
    st.integers(min_value=0, max_value=10**7),
)
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), datetime(2026, 1, 1), 3600)  # noqa: DTZ001
@example(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), datetime(2026, 1, 1), 3600)  # noqa: DTZ001
def test_settle_date_is_aware_utc_and_never_too_far_ahead(
    published: datetime | None, fetched: datetime, tolerance: int
) -> None:
    fetched_at = fetched.replace(tzinfo=UTC)
    when, note = settle_date(published, fetched_at, timedelta(seconds=tolerance))
    assert when.tzinfo is not None and when.utcoffset() == timedelta(0)
    assert when <= fetched_at + timedelta(seconds=tolerance)
    if published is None:
        assert (when, note) == (fetched_at, "missing: time fetched used")
    elif note is None:
        # compared in UTC: Python never finds a time in a DST gap or fold equal across zones (PEP 495)
        assert when == (published.astimezone(UTC) if published.tzinfo else published.replace(tzinfo=UTC))
    else:
        assert when == fetched_at and ("clamped" in note or "out of range" in note)


@SETTINGS
@given(
    st.one_of(
        st.text(max_size=40),
        st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?", fullmatch=True),
        st.from_regex(r"\d{1,5}[-/年]\d{1,2}[-/月]\d{1,2}日?", fullmatch=True),
    ),
    st.one_of(st.none(), st.sampled_from(["%Y-%m-%d", "%d.%m.%Y %z", "%Y年%m月%d日"])),
)
@example("0001-01-01T00:00:00+05:00", None)
@example("9999-12-31T23:00:00-05:00", None)
def test_page_dates_are_total_and_utc(text: str, date_format: str | None) -> None:
    when = parse_date(text, date_format)
    assert when is None or when.utcoffset() == timedelta(0)


# -- feeds: whatever the bytes, a result, never an exception ------------------------------------

feed_like = st.builds(
    lambda head, items, tail: head + items + tail,
    st.sampled_from(
        [b"", b'<?xml version="1.0"?>', b"\xef\xbb\xbf", b"\xff\xfe", b'<?xml version="1.0" encoding="gb2312"?>']
    ),
    st.lists(
        st.builds(
            lambda t, link, d: (
                b"<item><title>" + t + b"</title><link>" + link + b"</link><pubDate>" + d + b"</pubDate></item>"
            ),
            st.binary(max_size=20),
            st.binary(max_size=20),
            st.binary(max_size=20),
        ),
        max_size=3,
    ).map(lambda items: b'<rss version="2.0"><channel>' + b"".join(items)),
    st.sampled_from([b"</channel></rss>", b"", b"</chan", b"\x00"]),
)


@settings(deadline=None, max_examples=150)
@given(
    st.one_of(st.binary(max_size=300), feed_like),
    st.sampled_from(["application/rss+xml", "text/html", "text/plain; charset=bogus", "", "text/xml; charset=utf-16"]),
)
def test_parse_feed_is_total_and_its_items_are_clean(body: bytes, content_type: str) -> None:
    parsed = parse_feed(body, {"content-type": content_type} if content_type else {}, "http://news.example/feed")
    for found in parsed.items:
        assert found.guid
        assert found.title or found.summary or found.url
        for value in (found.title, found.summary, found.url or "", found.guid):
            assert not CONTROL.search(value)
    if not body.strip():
        assert parsed.warning  # an empty download is never taken for a feed with nothing new
