"""Listing pages: golden pages in three scripts and four encodings, selectors, heuristics, dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from monitor.collect.decode import decode_html
from monitor.collect.parse.pages import PageSelectors, parse_date, parse_page
from monitor.records import ParsedFeed
from tests.conftest import DATA

PAGES = DATA / "pages"
CASES = [
    "en_listing",
    "en_fallback",
    "zh_hans_gbk_meta",
    "zh_hant_big5_nodecl",
    "zh_gb18030_header",
    "zh_custom_selectors",
]


def as_data(feed: ParsedFeed) -> dict[str, Any]:
    return {
        "title": feed.title,
        "lang": feed.lang,
        "items": [
            {
                "url": item.url,
                "title": item.title,
                "summary": item.summary,
                "published_at": item.published_at.isoformat() if item.published_at else None,
            }
            for item in feed.items
        ],
    }


@pytest.mark.parametrize("case", CASES)
def test_golden_pages(case: str) -> None:
    expected = json.loads((PAGES / f"{case}.json").read_text("utf-8"))
    html = decode_html((PAGES / f"{case}.html").read_bytes(), expected.get("headers", {}))
    feed = parse_page(html, expected["url"], PageSelectors(**expected.get("selectors", {})))
    assert as_data(feed) == {key: expected[key] for key in ("title", "lang", "items")}
    assert feed.warning is None
    for item in feed.items:
        assert item.guid == item.url
        assert item.lang == feed.lang


def parse(body: str, selectors: PageSelectors | None = None, url: str = "https://h.example/list/") -> ParsedFeed:
    return parse_page(f"<html><body>{body}</body></html>", url, selectors or PageSelectors())


def urls(feed: ParsedFeed) -> list[str | None]:
    return [item.url for item in feed.items]


def test_blocks_without_a_link_are_skipped_and_links_kept_once() -> None:
    feed = parse(
        "<ul>"
        '<li><a href="/a">First headline of the listing</a></li>'
        "<li>An item without any link at all</li>"
        '<li><a href="javascript:void(0)">A script link is no item link</a></li>'
        '<li><a href="mailto:desk@h.example">Write to the news desk today</a></li>'
        '<li><a href="/a#comments">First headline of the listing, comments</a></li>'
        '<li><a href="#top">Back to the top of this page</a></li>'
        '<li><a href="/list/">This very page is not an item</a></li>'
        '<li><a href="https://h.example/">The home page is navigation</a></li>'
        '<li><a href="b?id=2">Second headline of the listing</a></li>'
        "</ul>"
    )
    assert urls(feed) == ["https://h.example/a", "https://h.example/list/b?id=2"]


def test_navigation_header_footer_and_asides_are_ignored() -> None:
    feed = parse(
        '<div id="header"><ul><li><a href="/about">About this publication and its staff</a></li></ul></div>'
        '<nav><ul><li><a href="/world">World news from every continent</a></li></ul></nav>'
        '<div role="main"><ul><li><a href="/n/1">Chipmaker wins licence to ship accelerators</a></li></ul></div>'
        '<aside><ul><li><a href="/popular">Most popular stories of the week</a></li></ul></aside>'
        '<footer><ul><li><a href="/terms">Terms and conditions of this website</a></li></ul></footer>'
    )
    assert urls(feed) == ["https://h.example/n/1"]


def test_a_region_class_inside_each_card_is_not_the_main_region() -> None:
    feed = parse(
        "".join(
            f'<div class="card"><div class="content"><a href="/n/{i}">Headline number {i} of the list</a></div></div>'
            for i in range(3)
        )
    )
    assert urls(feed) == [f"https://h.example/n/{i}" for i in range(3)]


def test_a_container_of_blocks_is_not_an_item() -> None:
    feed = parse(
        '<div class="item"><h2><a href="/section">Section heading that wraps the list</a></h2><ul>'
        '<li><article><h3><a href="/n/1">Inner article one of the section</a></h3></article></li>'
        '<li><article><h3><a href="/n/2">Inner article two of the section</a></h3></article></li>'
        "</ul></div>"
    )
    assert urls(feed) == ["https://h.example/n/1", "https://h.example/n/2"]


def test_short_links_are_no_headlines() -> None:
    feed = parse('<ul><li><a href="/more">More</a></li><li><a href="/p/2">下一页</a></li></ul>')
    assert feed.items == []
    assert feed.warning == "no items found on the page"


def test_heading_title_wins_over_a_read_more_link() -> None:
    feed = parse(
        "<article><h2>Export rule takes effect in thirty days</h2><p>The rule was published today in full.</p>"
        '<a href="/rule">Read the full story here</a></article>'
    )
    [item] = feed.items
    assert (item.url, item.title, item.summary) == (
        "https://h.example/rule",
        "Export rule takes effect in thirty days",
        "The rule was published today in full.",
    )


def test_item_selector_may_match_the_links_themselves() -> None:
    feed = parse(
        '<div><a class="headline" href="/x/1">Short</a> <a class="headline" href="/x/2">Also short</a>'
        '<a href="/x/3">A long link that is not selected by the item selector</a></div>',
        PageSelectors(item="a.headline"),
    )
    assert [(i.url, i.title) for i in feed.items] == [
        ("https://h.example/x/1", "Short"),
        ("https://h.example/x/2", "Also short"),
    ]


def test_link_selector_without_item_selector() -> None:
    feed = parse(
        '<div class="list"><p><a class="go" href="/x/1">一</a> 2025-07-01</p>'
        '<p><a class="go" href="/x/2">二</a></p></div>',
        PageSelectors(link="a.go"),
    )
    assert [(i.url, i.title, i.published_at) for i in feed.items] == [
        ("https://h.example/x/1", "一", datetime(2025, 7, 1, tzinfo=UTC)),
        ("https://h.example/x/2", "二", None),
    ]


def test_selected_date_attribute_and_a_format_that_does_not_fit() -> None:
    selectors = PageSelectors(item=".r", date=".d", date_format="%d.%m.%Y")
    feed = parse(
        '<div class="r"><a href="/1">One</a><span class="d" data-x="1">2025-07-15</span></div>'
        '<div class="r"><a href="/2">Two</a><time class="d" datetime="2025-07-14T08:00:00+08:00">yesterday</time></div>'
        '<div class="r"><a href="/3">Three</a><span class="d">soon</span></div>',
        selectors,
    )
    assert [i.published_at for i in feed.items] == [
        datetime(2025, 7, 15, tzinfo=UTC),
        datetime(2025, 7, 14, tzinfo=UTC),
        None,
    ]


def test_base_href_and_relative_links() -> None:
    feed = parse_page(
        '<html><head><base href="/news/2025/"></head><body><ul>'
        '<li><a href="07/15.html">A relative link under the base href</a></li>'
        '<li><a href="//cdn.example.net/story">A scheme-relative link elsewhere</a></li>'
        "</ul></body></html>",
        "https://h.example/index.html",
        PageSelectors(),
    )
    assert urls(feed) == ["https://h.example/news/2025/07/15.html", "https://cdn.example.net/story"]


@pytest.mark.parametrize("html", ["", "   ", "<html>", "not html", "\x00\x01", "<a href='/x'>"])
def test_junk_gives_no_items(html: str) -> None:
    assert parse_page(html, "https://h.example/", PageSelectors()).items == []


@pytest.mark.parametrize(
    ("text", "date_format", "expected"),
    [
        ("2025-07-15", None, datetime(2025, 7, 15, tzinfo=UTC)),
        ("2025/07/15", None, datetime(2025, 7, 15, tzinfo=UTC)),
        ("2025/7/5", None, datetime(2025, 7, 5, tzinfo=UTC)),
        ("2025.07.15", None, datetime(2025, 7, 15, tzinfo=UTC)),
        ("2025年7月15日", None, datetime(2025, 7, 15, tzinfo=UTC)),
        ("2025 年 07 月 15 日 14:05", None, datetime(2025, 7, 15, 14, 5, tzinfo=UTC)),
        ("２０２５年７月１５日", None, datetime(2025, 7, 15, tzinfo=UTC)),
        ("发布时间：2025-07-15 09:30:15", None, datetime(2025, 7, 15, 9, 30, 15, tzinfo=UTC)),
        ("July 15, 2025", None, datetime(2025, 7, 15, tzinfo=UTC)),
        ("Jul. 15 2025", None, datetime(2025, 7, 15, tzinfo=UTC)),
        ("Sept 1, 2025", None, datetime(2025, 9, 1, tzinfo=UTC)),
        ("15 July 2025", None, datetime(2025, 7, 15, tzinfo=UTC)),
        ("Posted on the 3rd July 2025 by staff", None, datetime(2025, 7, 3, tzinfo=UTC)),
        ("2025-07-15T14:30:00-04:00", None, datetime(2025, 7, 15, 18, 30, tzinfo=UTC)),
        ("2025-07-15T14:30:00Z", None, datetime(2025, 7, 15, 14, 30, tzinfo=UTC)),
        ("15/07/2025", "%d/%m/%Y", datetime(2025, 7, 15, tzinfo=UTC)),
        ("15.07.2025 10:00 +0800", "%d.%m.%Y %H:%M %z", datetime(2025, 7, 15, 2, 0, tzinfo=UTC)),
        ("2025-07-15", "%d/%m/%Y", datetime(2025, 7, 15, tzinfo=UTC)),  # format misses: the usual forms
        ("2025-02-30", None, None),
        ("2025年13月1日", None, None),
        ("15/07/2025", None, None),
        ("version 1.2.3", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_parse_date(text: str | None, date_format: str | None, expected: datetime | None) -> None:
    assert parse_date(text, date_format) == expected


def test_selectors_are_validated() -> None:
    assert PageSelectors().item is None
    with pytest.raises(ValidationError, match="invalid CSS selector"):
        PageSelectors(item="li[")
    with pytest.raises(ValidationError, match="strptime"):
        PageSelectors(date_format="YYYY-MM-DD")
    with pytest.raises(ValidationError, match="Extra inputs"):
        PageSelectors.model_validate({"items": "li"})
    with pytest.raises(ValidationError, match="frozen"):
        PageSelectors().item = "li"  # type: ignore[misc]
