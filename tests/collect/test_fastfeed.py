"""The lxml fast path gives exactly what feedparser gives, wherever it answers.

The issue's condition for adopting it: identical items on feedparser's test corpus and the dev
corpus. Every document here is read both ways; wherever the fast path accepts one, its ParsedFeed
must equal feedparser's field for field. It must also accept every dev corpus feed and every
generated benchmark feed, so that it is really used. On feedparser's corpus it accepts 840 of the
2,107 files (the rest are RSS 1.0/0.9x, Atom 0.3, CDF, ill-formed, DOCTYPEs, xml:base and
Content-Location cases, extensions that feed a field: it declines them and feedparser reads them).
"""

from __future__ import annotations

import importlib.util
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.urls import resolve_relative_uris
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.feeds import generate
from monitor.collect.parse import fastfeed, feed_values
from monitor.collect.parse.feeds import parse_fast, parse_feed, parse_with_feedparser
from monitor.records import ParsedFeed
from monitor.text.normalize import html_to_text
from tests.conftest import DATA
from tests.feedcorpus import CORPUS, load_corpus

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpus"
NEWSROOM = SHARED / "newsroom.py"
DEV_ITEMS = SHARED / "dev" / "items.jsonl"
SETTINGS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def same(body: bytes, headers: dict[str, str], url: str = "http://feed.example/feed") -> ParsedFeed | None:
    """The fast path's reading, after checking it equals feedparser's; None where it declined."""
    fast = parse_fast(body, headers, url)
    if fast is not None:
        assert fast == parse_with_feedparser(body, headers, url)
        assert fast.warning is None
    return fast


# -- the corpora ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feedparser corpus not found at {CORPUS}")
def test_feedparser_corpus_wherever_accepted() -> None:
    files = load_corpus()
    began = time.process_time()
    accepted = [f.rel for f in files if same(f.body, f.served_headers, "http://127.0.0.1/" + f.rel) is not None]
    print(f"\nfast path: {len(accepted)} of {len(files)} corpus files, {time.process_time() - began:.1f}s")
    assert len(accepted) >= 800, "the fast path declines much more of the corpus than it did"


def _newsroom() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newsroom", NEWSROOM)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (NEWSROOM.is_file() and DEV_ITEMS.is_file()), reason=f"dev corpus not found under {SHARED}")
def test_every_dev_corpus_feed_is_accepted_and_identical() -> None:
    newsroom = _newsroom()
    room = newsroom.Newsroom(newsroom.load([str(DEV_ITEMS)]), "http://127.0.0.1:8765")
    assert room.outlets
    for key in room.outlets:
        body, content_type = room.feed(key)
        assert same(body, {"content-type": content_type}) is not None, f"declined the dev feed {key}"


@pytest.mark.slow
@pytest.mark.skipif(not DEV_ITEMS.is_file(), reason=f"dev corpus not found at {DEV_ITEMS}")
def test_every_generated_bench_feed_is_accepted_and_identical() -> None:
    for feed in generate(8080, feeds=60):
        headers = {"content-type": feed.content_type}
        assert same(feed.body, headers, feed.url) is not None, f"declined {feed.url}"


@pytest.mark.parametrize("path", sorted((DATA / "feeds").iterdir()), ids=lambda p: p.name)
def test_repository_feed_fixtures(path: Path) -> None:
    for headers in ({"content-type": "application/xml"}, {}):
        same(path.read_bytes(), headers)


# -- hand-written fixtures --------------------------------------------------------------------

RSS = "application/rss+xml"
ATOM = "application/atom+xml"


def rss(items: str, channel: str = "<title>News</title><link>http://n.example/</link>", root: str = "") -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?>\n'
    return f'{head}<rss version="2.0"{root}><channel>{channel}{items}</channel></rss>'.encode()


def atom(entries: str, root: str = "", head: str = "<title>A</title><id>urn:a</id>") -> bytes:
    return f'<feed xmlns="http://www.w3.org/2005/Atom"{root}>{head}{entries}</feed>'.encode()


NS = (
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    ' xmlns:media="http://search.yahoo.com/mrss/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
    ' xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:atom="http://www.w3.org/2005/Atom"'
    ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
)
DATE = "<pubDate>Mon, 01 Sep 2025 12:30:00 +0000</pubDate>"
ITEM = "<title>T</title><link>http://n.example/1</link>" + DATE


def encoded(text: str, encoding: str) -> bytes:
    return f'<?xml version="1.0" encoding="{encoding}"?>\n{text}'.encode(encoding, "xmlcharrefreplace")


CHINESE_RSS = (
    '<rss version="2.0"><channel><title>新闻</title><language>zh-cn</language><item>'
    "<title>美国商务部将算力门槛降至2400 TOPS</title><link>http://n.example/a</link>"
    "<description>&lt;p&gt;輝達恢復對華銷售H20晶片，&amp;#12300;引號&amp;#12301;&lt;/p&gt;</description>"
    f"{DATE}</item></channel></rss>"
)

# (id, body, headers, expected: "accept" | "decline" | "either")
FIXTURES: list[tuple[str, bytes, dict[str, str], str]] = [
    ("cdata", rss(f"<item><title><![CDATA[AT&T <b>bold</b> & co]]></title><link>http://n.example/1</link>"
                  f"<description><![CDATA[<p>Hello &amp; <i>world</i> &raquo;</p>]]></description>{DATE}</item>"),
     {"content-type": RSS}, "accept"),
    ("entities", rss("<item><title>AT&amp;T &lt;3 &#8217;quoted&#8217; &#x4E2D;文 &#150; dash</title>"
                     "<link>http://n.example/1?a=1&amp;b=2</link>"
                     f"<description>x &amp;amp; y</description>{DATE}</item>"),
     {"content-type": RSS}, "accept"),
    ("escaped-html", rss("<item><title>Plain</title><link>http://n.example/1</link><description>"
                         "&lt;p class=&quot;x&quot;&gt;One&lt;br/&gt;two &amp;nbsp;three&lt;/p&gt;"
                         "&lt;P&gt;UPPER&lt;/P&gt;&lt;a href='single'&gt;q&lt;/a&gt;&lt;table&gt;&lt;tr&gt;"
                         "&lt;td&gt;cell&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt; AT&amp;T &amp;copy 2025"
                         f"</description>{DATE}</item>"),
     {"content-type": RSS}, "accept"),
    ("title-looks-like-html", rss(f"<item><title>Foo &lt;b&gt;bar&lt;/b&gt; &amp;amp;</title><link>http://n.example/1</link>"
                                  f"{DATE}</item>", "<title>Feed &lt;i&gt;x&lt;/i&gt; &amp;amp; y</title>"),
     {"content-type": RSS}, "accept"),
    ("chinese-utf8", encoded(CHINESE_RSS, "utf-8"), {"content-type": RSS}, "accept"),
    ("gb18030-declared", encoded(CHINESE_RSS, "gb18030"), {"content-type": RSS}, "accept"),
    ("big5-declared", encoded(CHINESE_RSS.replace("美国商务部将", "美國商務部將"), "big5"),
     {"content-type": "application/xml"}, "accept"),
    ("gb2312-declared", encoded(CHINESE_RSS, "gb2312"), {}, "accept"),
    ("big5-as-text-xml", encoded(CHINESE_RSS, "big5"), {"content-type": "text/xml"}, "decline"),
    ("header-charset-wins", CHINESE_RSS.replace("<rss", '<?xml version="1.0" encoding="gb18030"?><rss').encode(),
     {"content-type": "application/rss+xml; charset=utf-8"}, "accept"),
    ("header-charset-wrong", encoded(CHINESE_RSS, "gb18030"), {"content-type": "application/xml; charset=utf-8"},
     "decline"),
    ("not-xml-type", rss(f"<item>{ITEM}</item>"), {"content-type": "text/html"}, "decline"),
    ("no-content-type", rss(f"<item>{ITEM}</item>"), {"content-language": "en"}, "decline"),
    ("xml-lang", rss(f'<item xml:lang="zh-Hant"><title xml:lang="zh_TW">T</title><link>http://n.example/1</link></item>'
                     f'<item><title xml:lang="">U</title><description xml:lang="fr">d</description>'
                     f"<link>http://n.example/2</link></item><item>{ITEM}</item>",
                     "<title>N</title><language>en-gb</language>", ' xml:lang="en_US"'),
     {"content-type": RSS}, "accept"),
    ("content-language", rss(f"<item>{ITEM}</item><item><title lang='de'>X</title><link>http://n.example/2</link></item>"),
     {"content-type": RSS, "content-language": "en_GB"}, "accept"),
    ("atom-lang", atom('<entry xml:lang="fr"><title>T</title><id>urn:x:1</id><link href="http://a.example/1"/>'
                       '<updated>2025-09-01T12:00:00Z</updated></entry><entry><title xml:lang="de">U</title>'
                       '<id>urn:x:2</id><summary xml:lang="it">s</summary></entry>', ' xml:lang="en"'),
     {"content-type": ATOM}, "accept"),
    ("guids", rss('<item><title>a</title><guid isPermaLink="false">tag-1</guid><link>http://n.example/1</link></item>'
                  "<item><title>b</title><guid>http://n.example/2</guid></item>"
                  '<item><title>c</title><guid isPermaLink="False">http://n.example/3</guid></item>'
                  '<item><title>d</title><guid isPermaLink="false">id-4</guid></item>'
                  "<item><title>e</title><link>http://n.example/5</link><guid>http://n.example/5b</guid></item>"),
     {"content-type": RSS}, "accept"),
    ("guid-not-a-url", rss("<item><title>a</title><guid>12345</guid></item>"), {"content-type": RSS}, "decline"),
    ("missing-dates", rss("<item><title>a</title><link>http://n.example/1</link></item><item><description>only</description>"
                          "</item><item><description>   </description></item>"),
     {"content-type": RSS}, "accept"),
    ("good-dates", rss("<item><title>a</title><pubDate>Sun, 31 Aug 2025 23:30:00 -0800</pubDate></item>"
                       "<item><title>b</title><pubDate>1 Sep 2025 01:02:03 GMT</pubDate></item>"
                       "<item><title>c</title><dc:date>2025-09-01T12:00:00+05:30</dc:date></item>"
                       "<item><title>d</title><dc:date>2025-09-01T12:00:00.123Z</dc:date></item>"
                       "<item><title>e</title><pubDate>Fri, 01 Jan 1999 00:00:00 UT</pubDate></item>", root=NS),
     {"content-type": RSS}, "accept"),
    *[
        (f"odd-date-{n}", rss(f"<item><title>a</title><pubDate>{date}</pubDate></item>"), {"content-type": RSS},
         "decline")
        for n, date in enumerate(
            [
                "2025-09-01",
                "Mon, 1 Sep 2025 12:00 GMT",
                "Tue, 31 Feb 2025 12:00:00 GMT",
                "Mon, 01 Sep 2025 12:30:00 EST",
                "Mon, 01 Sep 25 12:30:00 GMT",
                "01/09/2025",
                "",
                "Mon,  01 Sep 2025 12:30:00 GMT",
                "2025-09-01T24:00:00Z",
            ]
        )
    ],
    ("atom-xhtml", atom('<entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">X <b>y</b></div></title>'
                        '<id>urn:x:1</id><link href="http://a.example/1"/><content type="xhtml">\n'
                        ' <div xmlns="http://www.w3.org/1999/xhtml"><p class="a" id="b">Hi &lt;there&gt; &amp;'
                        "<br/>next</p><div>two</div></div>\n</content><published>2025-09-01T10:00:00+02:00</published>"
                        "</entry>"),
     {"content-type": ATOM}, "accept"),
    ("atom-summary-and-content", atom('<entry><title type="html">A &amp;lt;b&amp;gt; B</title><id>urn:x:1</id>'
                                      '<summary type="html">&lt;p&gt;short &lt;br&gt;&lt;/p&gt;</summary>'
                                      '<content type="html">&lt;p&gt;a longer body &lt;b&gt;here&lt;/b&gt;&lt;/p&gt;'
                                      "</content></entry><entry><id>urn:x:2</id>"
                                      '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x<br/>'
                                      "y</div></content><summary>plain text summary that is long</summary></entry>"),
     {"content-type": ATOM}, "accept"),
    ("rss-summary-and-content", rss("<item><title>a</title><link>http://n.example/1</link>"
                                    "<content:encoded><![CDATA[<p>The <b>long</b> body</p>]]></content:encoded>"
                                    "<description>short</description></item><item><title>b</title>"
                                    "<description>a much longer description than the content</description>"
                                    "<content:encoded>&lt;p&gt;tiny&lt;/p&gt;</content:encoded>"
                                    "<link>http://n.example/2</link></item>", root=NS),
     {"content-type": RSS}, "accept"),
    ("atom-links", atom('<entry><title>a</title><id>urn:x:1</id><link rel="self" href="http://a.example/self"/>'
                        '<link rel="enclosure" type="audio/mpeg" href="http://a.example/a.mp3"/>'
                        '<link rel="alternate" type="text/html" href="http://a.example/1"/>'
                        '<link href="http://a.example/2"/></entry>'
                        '<entry><title>b</title><id>urn:x:2</id></entry>'
                        '<entry><title>c</title><id>http://a.example/3</id><link rel="alternate" type="application/pdf"'
                        ' href="http://a.example/3.pdf"/></entry>'),
     {"content-type": ATOM}, "accept"),
    ("harmless-extras", rss("<item><title>a</title><link>http://n.example/1</link><dc:creator>Me</dc:creator>"
                            "<category>x</category><category domain='d'>y</category><author>a@b.example (A)</author>"
                            "<comments>http://n.example/1#c</comments><slash:comments>3</slash:comments>"
                            "<wfw:commentRss>http://n.example/1/feed</wfw:commentRss>"
                            '<enclosure url="http://n.example/a.mp3" length="1" type="audio/mpeg"/>'
                            '<media:content url="http://n.example/i.jpg"><media:credit>c</media:credit></media:content>'
                            '<media:thumbnail url="http://n.example/t.jpg"/><itunes:explicit>no</itunes:explicit>'
                            '<source url="http://s.example/feed">S</source><foo:bar xmlns:foo="urn:foo">x</foo:bar>'
                            f"{DATE}</item>",
                            "<title>N</title><atom:link rel='self' href='http://n.example/feed'/><image><url>http://n.example/"
                            "i.png</url><title>Img</title><link>http://n.example/</link></image>", NS),
     {"content-type": RSS}, "accept"),
    ("media-title", rss(f"<item>{ITEM}<media:title>M</media:title></item>", root=NS), {"content-type": RSS}, "decline"),
    ("itunes-summary", rss(f"<item>{ITEM}<itunes:summary>S</itunes:summary></item>", root=NS), {"content-type": RSS},
     "decline"),
    ("atom-link-in-rss-item", rss(f"<item>{ITEM}<atom:link href='http://x.example/'/></item>", root=NS),
     {"content-type": RSS}, "decline"),
    ("two-titles", rss(f"<item>{ITEM}<title>again</title></item>"), {"content-type": RSS}, "decline"),
    ("relative-link", rss("<item><title>a</title><link>/news/1</link></item>"), {"content-type": RSS}, "decline"),
    ("relative-atom-href", atom('<entry><title>a</title><id>urn:x:1</id><link href="/x"/></entry>'),
     {"content-type": ATOM}, "decline"),
    ("xml-base", atom('<entry xml:base="http://b.example/"><title>a</title><id>urn:x:1</id>'
                      '<link href="http://a.example/"/></entry>'),
     {"content-type": ATOM}, "decline"),
    ("content-location", rss(f"<item>{ITEM}</item>"), {"content-type": RSS, "content-location": "http://x/"},
     "decline"),
    ("doctype", b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel><title>&x;</title>'
                b"</channel></rss>", {"content-type": RSS}, "decline"),
    ("not-well-formed", rss(f"<item>{ITEM}<title>x</item>"), {"content-type": RSS}, "decline"),
    ("undefined-entity", rss("<item><title>a&nbsp;b</title></item>"), {"content-type": RSS}, "decline"),
    ("naked-markup", rss("<item><title>a</title><description>x <b>y</b></description></item>"), {"content-type": RSS},
     "decline"),
    ("empty-channel", rss("", "<title>Quiet</title><language>fr</language>"), {"content-type": RSS}, "accept"),
    ("empty-body", b"", {"content-type": RSS}, "decline"),
    ("mojibake", rss(f"<item><title>CafÃ© crÃ¨me</title><description>naÃ¯ve &lt;b&gt;cafÃ©&lt;/b&gt;</description>"
                     f"<link>http://n.example/1</link>{DATE}</item>"),
     {"content-type": RSS}, "accept"),
    ("latin1-declared", encoded("<rss><channel><title>Café</title><item><title>Über £5 — ½</title>"
                                "<link>http://n.example/1</link></item></channel></rss>", "iso-8859-1"),
     {"content-type": "application/xml"}, "accept"),
    ("link-repairs", rss("<item><title>a</title><link>http:///n.example/1?a=1&amp;amp;b=2&amp;c;=3</link></item>"
                         "<item><title>b</title><guid>http:////n.example/2</guid></item>"),
     {"content-type": RSS}, "accept"),
    ("comments-and-pis", rss("<item><title>a<!-- c -->b<?pi x?>c</title><link>http://n.example/1</link></item>"),
     {"content-type": RSS}, "accept"),
    ("whitespace", rss("<item><title>\n  spaced\tout  \n</title><link>\n http://n.example/1 \n</link>"
                       "<description>\n\n</description></item>"),
     {"content-type": RSS}, "accept"),
    ("lang-attribute", rss('<item lang="de"><title>a</title><link>http://n.example/1</link></item>'),
     {"content-type": RSS}, "accept"),
    ("unknown-default-namespace", rss('<item><title>a</title><link>http://n.example/1</link>'
                                      '<x xmlns="urn:x"><title>inner</title></x></item>'),
     {"content-type": RSS}, "decline"),
    ("prefix-named-like-feedparsers", rss("<item><title>a</title><link>http://n.example/1</link><thr:total>3</thr:total>"
                                          "<dc:date>2025-09-01T12:00:00Z</dc:date></item>",
                                          root=' xmlns:dc="http://example.com/not-dc"'
                                          ' xmlns:thr="http://purl.org/syndication/thread/1.0"'),
     {"content-type": RSS}, "accept"),
    ("known-namespace-under-another-prefix", rss("<item><title>a</title><content:date>2025-09-01T12:00:00Z"
                                                 "</content:date></item>",
                                                 root=' xmlns:content="http://purl.org/dc/elements/1.1/"'),
     {"content-type": RSS}, "decline"),
    ("prefix-rebound", rss('<item><title>a</title><x:a xmlns:x="urn:one">1</x:a><x:b xmlns:x="urn:two">2</x:b></item>'),
     {"content-type": RSS}, "decline"),
    ("rdf", b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
            b"<channel><title>R</title></channel><item><title>a</title><link>http://r/1</link></item></rdf:RDF>",
     {"content-type": "application/rdf+xml"}, "decline"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "headers", "expected"), [f[1:] for f in FIXTURES], ids=[f[0] for f in FIXTURES])
def test_fixtures(body: bytes, headers: dict[str, str], expected: str) -> None:
    fast = same(body, headers)
    if expected != "either":
        assert (fast is not None) == (expected == "accept")


def test_parse_feed_falls_back_when_the_fast_path_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    body = rss(f"<item>{ITEM}</item>")

    def broken(content: bytes, headers: Any) -> None:
        raise RuntimeError("a bug in the fast path")

    monkeypatch.setattr(fastfeed, "parse", broken)
    assert parse_feed(body, {"content-type": RSS}, "http://x/") == parse_with_feedparser(
        body, {"content-type": RSS}, ""
    )
    assert "fast path failed" in caplog.text and "a bug in the fast path" in caplog.text  # the traceback is kept


# -- the pieces it copies from feedparser -------------------------------------------------------


def test_cp1252_map_is_feedparsers() -> None:
    assert _cp1252 == feed_values.CP1252


# Naive, as feedparser's stamps are before it shifts them to UTC.
moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30))  # noqa: DTZ001
offsets = st.tuples(st.sampled_from("+-"), st.integers(0, 14), st.sampled_from([0, 15, 30, 45, 59]))


@SETTINGS
@given(moments, offsets, st.integers(0, 5), st.booleans())
def test_strict_dates_parse_as_feedparser_parses_them(
    moment: datetime, offset: tuple[str, int, int], form: int, short: bool
) -> None:
    sign, hours, minutes = offset
    rfc_zone = ["GMT", "UT", "UTC", "Z", f"{sign}{hours:02d}{minutes:02d}"][min(form, 4)]
    w3c_zone = "Z" if form == 0 else f"{sign}{hours:02d}:{minutes:02d}"
    day = f"{moment.day}" if short else f"{moment.day:02d}"
    rfc = f"{day} {moment:%b %Y %H:%M:%S} {rfc_zone}"
    w3c = f"{moment:%Y-%m-%dT%H:%M:%S}" + (f".{moment.microsecond:06d}" if form % 2 else "") + w3c_zone
    for text in (rfc, f"{moment:%a}, {rfc}", w3c):
        assert feed_values.feed_date(text) == _parse_date(text), text


# -- markup whose re-serialisation by feedparser the fast path skips -----------------------------

MARKUP_TOKENS = [
    "text", " ", "\n", "中文", "繁體", "é", "Ã©", "\u0096", ">", "'", '"', "&", "<", "&amp;", "&lt;", "&gt;",
    "&quot;", "&apos;", "&nbsp;", "&raquo;", "&copy", "&bogus;", "&#39;", "&#34;", "&#8217;", "&#x27;", "&#X27;",
    "&#150;", "&#x96;", "&#0;", "<p>", "</p>", "<P>", "<p/>", "<b>", "</b>", "<br>", "<br/>", "<br />", "</br>",
    "<BR>", "<img src=\"a.png\" alt=\"x &amp; y\"/>", "<img alt='q'>", '<a href="http://x/?a=1&b=2">', "</a>",
    '<a href="&#39;">', '<a title="中">', '<a title="x" title="y">', "<span class=\"c\" >", "</span>", "<div>",
    "</div>", "<script>", "</script>", "<style>", "</style>", "<table>", "<tr>", "<td>", "</td>", "<!-- c -->",
    "<![CDATA[x]]>", "<?pi?>", "<!DOCTYPE html>", "<a:b>", "</ p>", "< p>", "<p\n>", "<h1>", "</h1>", "<li>",
    "<ul>", "</ul>", "<pre>", "</pre>", "<rt>", "<ruby>", "<q>", "<wbr>", "<hr/>", "<p hidden>",
]  # fmt: skip


@SETTINGS
@given(
    st.lists(st.sampled_from(MARKUP_TOKENS), max_size=25).map("".join),
    st.sampled_from(["text/html", "application/xhtml+xml"]),
)
def test_skipped_reserialisation_keeps_the_text(markup: str, content_type: str) -> None:
    if feed_values.stable_markup(markup) and feed_values.finish(markup) == markup:
        passed = feed_values.finish(str(resolve_relative_uris(markup, "", "utf-8", content_type)))
        assert html_to_text(markup) == html_to_text(passed)


# -- generated documents ------------------------------------------------------------------------

TEXT_TOKENS = [
    "News", " ", "中国芯片", "臺灣", "é", "Ã©", "\u0096", "&", "<", ">", "<b>x</b>", "<p>para</p>", "<br/>", "&amp;",
    "&nbsp;", "&#8217;", "&#150;", "]]>", "\t\n", "<a href=\"http://x.example/?a=1&b=2\">l</a>", "&raquo;", "<BR>",
]  # fmt: skip
texts = st.lists(st.sampled_from(TEXT_TOKENS), max_size=6).map("".join)
LANGS = st.sampled_from([None, "", "en", "zh_CN", "zh-Hant"])
# Mostly what the fast path accepts, so that many items are compared; some of what it declines.
GOOD_DATES = [
    "Mon, 01 Sep 2025 12:30:00 +0000",
    "01 Sep 2025 12:30:00 GMT",
    "2025-09-01T12:30:00+08:00",
    "2025-09-01T12:30:00Z",
]
DATES = st.sampled_from([None, *GOOD_DATES * 4, "2025-09-01", "yesterday", "Mon, 01 Sep 2025 12:30:00 PDT"])
LINKS = st.sampled_from([None, *["http://n.example/1", "https://n.example/a?b=1&c=2", "urn:x:1"] * 4, "/relative", ""])


def _escape(text: str, how: int) -> str:
    if how == 0 and "]]>" not in text:
        return f"<![CDATA[{text}]]>"
    if how == 1:  # markup left as is where it parses: mixed content
        return text.replace("&", "&amp;").replace("<", "&lt;") if "<" in text and "</" not in text else text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _element(name: str, text: str | None, how: int, lang: str | None = None, attrs: str = "") -> str:
    if text is None:
        return ""
    lang_attr = "" if lang is None else f' xml:lang="{lang}"'
    return f"<{name}{lang_attr}{attrs}>{_escape(text, how)}</{name}>"


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    kind = draw(st.sampled_from(["rss", "atom"]))
    entries = []
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from([0, 2, 2, 2, 1]))
        title = _element("title", draw(st.one_of(st.none(), texts)), how, draw(LANGS))
        date = draw(DATES)
        link = draw(LINKS)
        if kind == "rss":
            summary = _element("description", draw(st.one_of(st.none(), texts)), how, draw(LANGS))
            content = _element("content:encoded", draw(st.one_of(st.none(), texts)), how)
            guid = _element(
                "guid",
                draw(st.one_of(st.none(), st.sampled_from(["g-1", "http://n.example/g"]))),
                2,
                attrs=draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"'])),
            )
            parts = [title, summary, content, guid, _element("link", link, 2), _element("pubDate", date, 2)]
            entries.append("<item>" + "".join(draw(st.permutations(parts))) + "</item>")
        else:
            kind_attr = draw(st.sampled_from(["", ' type="html"', ' type="text"']))
            summary = _element("summary", draw(st.one_of(st.none(), texts)), how, draw(LANGS), kind_attr)
            content = _element("content", draw(st.one_of(st.none(), texts)), how, attrs=kind_attr)
            href = "" if link is None else f'<link href="{link.replace("&", "&amp;")}"/>'
            parts = [title, summary, content, _element("id", "urn:e:1", 2), href, _element("updated", date, 2)]
            entries.append("<entry>" + "".join(draw(st.permutations(parts))) + "</entry>")
    root_lang = draw(LANGS)
    lang_attr = "" if root_lang is None else f' xml:lang="{root_lang}"'
    if kind == "rss":
        language = _element("language", draw(st.one_of(st.none(), st.sampled_from(["en", " zh-cn ", ""]))), 2)
        text = rss("".join(entries), f"<title>{_escape(draw(texts), 2)}</title>{language}", lang_attr + NS)
    else:
        text = atom("".join(entries), lang_attr, f"<title>{_escape(draw(texts), 2)}</title><id>urn:f</id>")
    encoding = draw(st.sampled_from(["utf-8", "gb18030", "big5"]))
    body = text.decode().replace('encoding="utf-8"', f'encoding="{encoding}"').encode(encoding, "xmlcharrefreplace")
    if kind == "atom":
        body = f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + body
    types = [RSS, ATOM, "application/xml", f"application/xml; charset={encoding}", "text/xml", "text/html"]
    types = types[:4] * 3 + types[4:]
    headers = {"content-type": draw(st.sampled_from(types))}
    if lang := draw(st.sampled_from([None, "en", "zh_TW"])):
        headers["content-language"] = lang
    return body, headers


@SETTINGS
@given(documents())
def test_generated_documents_read_alike(doc: tuple[bytes, dict[str, str]]) -> None:
    same(*doc)
