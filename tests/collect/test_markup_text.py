"""`normalize.markup_text` reads text from lxml's tree directly instead of through BeautifulSoup
(ten times faster); it must give exactly what `BeautifulSoup(markup, "lxml").get_text(" ")` gave,
after `clean_text`, on every kind of markup feeds carry: the feedparser test corpus, the dev
corpus, tricky cases, and generated markup."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.text.normalize import _event_text, _tree_text, clean_text, html_to_text, markup_text
from tests.feedcorpus import CORPUS, load_corpus

DEV = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "dev" / "items.jsonl"


def reference(markup: str) -> str:
    """What html_to_text did before: BeautifulSoup over lxml."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # XMLParsedAsHTMLWarning, MarkupResemblesLocatorWarning
        return clean_text(BeautifulSoup(markup, "lxml").get_text(" "))


def fast(markup: str) -> str:
    """markup_text, and each of its two ways (lxml's tree below 200 tags, its events above)."""
    text = clean_text(markup_text(markup))
    tree, events = _tree_text(markup), _event_text(markup)
    assert clean_text(events) == text
    if markup.count("<") < 200 and tree is not None:  # the tree drops what lies deeper than 255 elements
        assert clean_text(tree) == text  # (None: no tree at all, and BeautifulSoup decides)
    return text


CASES = [
    "plain",
    "AT&T and &amp; &raquo; &#8212; &#x4e2d; &nosuch; &",
    "<p>one</p><p>two</p>",
    "a<b>b</b>c<i> d </i>e",
    "x<!-- a comment -->y",
    "<![CDATA[in cdata]]>after",
    "a<?pi target?>b",
    "<script>var s = 1;</script>text<style>p {}</style>more",
    "<template><p>x</p>y</template>z",
    "a<ruby>漢<rt>kan</rt><rp>(</rp></ruby>b",
    "<textarea>ta</textarea><noscript>ns</noscript><title>ti</title>",
    '<?xml version="1.0" encoding="utf-8"?><a>x</a>',
    "<!DOCTYPE html><p>d</p>",
    "<svg><style>q</style><text>svg text</text></svg>",
    "\x00a<b>c</b>",
    "<p>unclosed <b>bold <i>both</p> after",
    "</p>stray end tags</div>",
    "<table><tr><td>cell</td>between<td>2</td></tr></table>",
    "<html><body>b</body></html>after html",
    "<head><title>t</title></head>body text",
    "<br><br/>line<hr>rule",
    "美国商务部<strong>出口管制</strong>，輝達&nbsp;H20。",
    "<p>" + "<b>" * 300 + "deep" + "</b>" * 300 + "</p>",
    "<",
    "<>",
    "&lt;p&gt;escaped markup&lt;/p&gt;",
    "<!-- only a comment -->",
    "<a href='x'>link</a> &raquo;",
]


@pytest.mark.parametrize("markup", CASES)
def test_markup_text_matches_beautifulsoup(markup: str) -> None:
    assert fast(markup) == reference(markup)


def test_html_to_text_skips_plain_text() -> None:
    assert html_to_text("  plain   text ") == "plain text"
    assert html_to_text(None) == ""


def _corpus_markup() -> Iterator[str]:
    for corpus_file in load_corpus(CORPUS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = feedparser.parse(corpus_file.body, response_headers=corpus_file.served_headers)
        feed = doc.get("feed", {})
        yield from (str(v) for v in (feed.get("title"), feed.get("subtitle")) if v)
        for entry in doc.get("entries", []):
            yield from (str(v) for v in (entry.get("title"), entry.get("summary")) if v)
            yield from (str(c.get("value")) for c in entry.get("content") or [] if c.get("value"))


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="feedparser test corpus not present")
def test_same_text_on_the_feedparser_corpus() -> None:
    markups = [m for m in _corpus_markup() if "<" in m or "&" in m]
    assert len(markups) > 1000
    different = [m for m in markups if fast(m) != reference(m)]
    assert not different, different[:5]


@pytest.mark.skipif(not DEV.is_file(), reason="dev corpus not present")
def test_same_text_on_the_dev_corpus() -> None:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        for value in (row["title"], row["summary"], row["body"]):
            for markup in (value, f"<p>{value}</p><p><a href='{row['url']}'>more</a> &raquo;</p>"):
                assert fast(markup) == reference(markup)


_PIECES = [*"ab 中國\n\t&;#x<>/=\"'", "&amp;", "&lt;", "&#20013;", "&raquo", "\u3000", "\x00", "\r"]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)
_TAGS = ["p", "b", "i", "a", "br", "script", "style", "template", "rt", "rp", "ruby", "td", "tr", "title", "svg", "div"]


@st.composite
def _markup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["text", "open", "close", "comment", "cdata", "pi"]))
        tag = draw(st.sampled_from(_TAGS))
        text = draw(_TEXT)
        parts.append(
            {
                "text": text,
                "open": f"<{tag}>",
                "close": f"</{tag}>",
                "comment": f"<!--{text}-->",
                "cdata": f"<![CDATA[{text}]]>",
                "pi": f"<?{tag} {text}?>",
            }[kind]
        )
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(_markup())
def test_same_text_on_generated_markup(markup: str) -> None:
    assert fast(markup) == reference(markup)
