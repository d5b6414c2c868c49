"""Article extraction: the body without the boilerplate around it, metadata, junk input."""

from __future__ import annotations

import re
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
    for paragraph in body:
        assert paragraph in article.text
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
    for paragraph in body:
        assert paragraph in article.text
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
