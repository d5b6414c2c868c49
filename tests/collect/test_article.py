"""Article extraction: the body without the boilerplate around it, metadata, junk input."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from monitor.collect.parse.article import Article, extract_article
from tests.conftest import DATA

PAGES = DATA / "pages"


def paragraphs(name: str, selector: str) -> list[str]:
    """The paragraphs of a fixture matched by a simple `<div|article ...>` block, as written."""
    html = (PAGES / name).read_text("utf-8")
    block = re.search(selector, html, re.DOTALL)
    assert block is not None
    return re.findall(r"<p>(.*?)</p>", block.group(0))


def test_english_article_body_without_boilerplate() -> None:
    html = (PAGES / "article_en.html").read_text("utf-8")
    article = extract_article(html, "https://news.example.com/amp/2025/07/15/story")
    body = paragraphs("article_en.html", r"<article>.*?</article>")
    assert len(body) == 5
    assert article.text.split("\n") == body  # a paragraph a line, the headline left out
    for boilerplate in (
        "World desk",
        "Subscribe to our newsletter",
        "Related stories",
        "Chipmakers report record quarterly earnings",
        "All rights reserved",
        "Privacy policy",
        "Contact the newsroom",
    ):
        assert boilerplate not in article.text
    assert article.canonical_url == "https://news.example.com/2025/07/15/us-tightens-ai-chip-export-rules"
    assert article.title == "US tightens rules on AI chip exports"
    assert article.published_at == datetime(2025, 7, 15, 13, 45, tzinfo=UTC)
    assert article.lang == "en"


def test_chinese_article_body_og_url_and_pubdate() -> None:
    html = (PAGES / "article_zh.html").read_text("utf-8")
    article = extract_article(html, "https://m.example.cn/news/123456.html")
    body = paragraphs("article_zh.html", r'<div class="content">.*?</div>')
    assert len(body) == 4
    assert article.text.split("\n") == body
    for boilerplate in ("网站首页", "财经频道", "相关新闻", "海关总署公布", "版权所有", "联系我们"):
        assert boilerplate not in article.text
    assert article.canonical_url == "https://www.example.cn/news/2025/0715/c1001-123456.html"
    assert article.published_at == datetime(2025, 7, 15, 10, 30, tzinfo=UTC)
    assert article.lang == "zh-CN"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<link rel="canonical" href="https://h.example/c">', "https://h.example/c"),
        ('<link rel="alternate canonical" href="../c?id=1">', "https://h.example/c?id=1"),
        ('<meta property="og:url" content="/og">', "https://h.example/og"),
        (
            '<link rel="canonical" href="javascript:alert(1)"><meta property="og:url" content="/og">',
            "https://h.example/og",
        ),
        ('<link rel="canonical" href="">', None),
        ("", None),
    ],
)
def test_canonical_url(head: str, expected: str | None) -> None:
    html = f"<html><head>{head}</head><body><p>Too short to be an article.</p></body></html>"
    assert extract_article(html, "https://h.example/a/b").canonical_url == expected


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   ",
        "\x00\x01\x02",
        "<<<>>>",
        "<html>",
        "<p>" * 5000,
        "<?xml version='1.0' encoding='utf-8'?><html/>",
        "<html><body>\ud800 lone surrogate</body></html>",
    ],
)
def test_junk_never_raises(html: str) -> None:
    assert extract_article(html, "https://h.example/") == Article(text="")


def test_broken_metadata_is_left_out() -> None:
    html = "<html lang><head><link rel=canonical></head><body><time datetime='never'>x</time></body></html>"
    assert extract_article(html, "https://h.example/") == Article(text="x")


HEADLINED = "<html><head><title>{title}</title></head><body><article>{h1}{lead}</article></body></html>"
PARAGRAPHS = "".join(
    f"<p>{p}</p>"
    for p in (
        "The Commerce Department on Tuesday widened the licence rule for accelerators sold abroad.",
        "Officials said the threshold had been lowered to catch chips designed to fall just below it.",
        "Industry groups warned that the change could cost manufacturers billions of dollars a year.",
    )
)

ZH_PARAGRAPH = "<p>美国商务部周二扩大了加速器出口许可规定的范围，门槛已经降低。</p>"


@pytest.mark.parametrize(
    ("title", "h1", "lead", "first"),
    [
        # the headline extraction keeps as the first line is left out
        ("Licence rule widened", True, PARAGRAPHS, "The Commerce Department on Tuesday"),
        ("The Commerce Department", True, PARAGRAPHS, "The Commerce Department on Tuesday"),
        # a first paragraph that only begins with the headline's words is the article's own
        ("The Commerce Department", False, PARAGRAPHS, "The Commerce Department on Tuesday"),
        # Chinese, as a heading line of its own
        ("美国扩大许可规定", True, ZH_PARAGRAPH * 3, "美国商务部周二"),
    ],
)
def test_the_headline_is_not_part_of_the_text(title: str, h1: bool, lead: str, first: str) -> None:
    page = HEADLINED.format(title=title, h1=f"<h1>{title}</h1>" if h1 else "", lead=lead)
    article = extract_article(page, "https://h.example/a")
    assert article.text.startswith(first)
    assert article.text.count("\n") == 2  # three paragraphs, three lines


# One paragraph of 130 Han characters: a whole short news story, under trafilatura's default
# minimum of 250 characters (below which it glued headline, dateline and body into one line).
SHORT_ZH = (
    "川普政府對輝達H20晶片輸往中國再加限制後，輝達股價應聲重挫，一夜之間市值蒸發逾1800億美元。"
    "H20原是輝達為符合美國管制而供應中國市場的產品。就在管制加碼之際，輝達執行長黃仁勳於週四應中國"
    "貿促會之邀抵達北京，並形容中國市場對輝達的成長極為關鍵。"
)


def test_a_short_chinese_story_is_its_paragraph() -> None:
    page = (
        '<html lang="zh-Hant"><head><title>美國再限H20輸華</title></head><body><header><a href="/">首頁</a></header>'
        "<article><h1>美國再限H20輸華 輝達市值一夜蒸發</h1>"
        '<time datetime="2025-04-17T08:00:00+00:00">2025-04-17 08:00</time>'
        f"<p>{SHORT_ZH}</p></article><footer><p>版權所有</p></footer></body></html>"
    )
    assert extract_article(page, "https://h.example/a").text == SHORT_ZH


def test_trafilatura_is_imported_by_the_first_article_page_only() -> None:
    """A run that fetches no article page (feeds alone, `article = "never"`, every 304) does not
    carry trafilatura and its dependencies (~6 MB, ~70 ms at every start); the first page
    extracted imports it."""
    code = (
        "import sys, monitor.cli, monitor.pipeline.run; before = 'trafilatura' in sys.modules\n"
        "from monitor.collect.parse.article import extract_article\n"
        "page = '<html><body><article><p>' + 'Nvidia export controls. ' * 30 + '</p></article></body></html>'\n"
        "text = extract_article(page, 'http://127.0.0.1/a').text\n"
        "print(before, 'trafilatura' in sys.modules, bool(text))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False", "True", "True"]
