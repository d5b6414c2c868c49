"""Page sources, article text, robots.txt, the URL gate and relevance, through the whole run."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from monitor.cli import main
from tests.conftest import DATA, FeedServer, Workspace

SPORT = "Local club wins the regional football cup after a penalty shoot-out"


def items(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["items", "--json"]) == 0
    return {i["title"]: i for i in json.loads(capsys.readouterr().out)}


def feed(*entries: tuple[str, str, str]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><description>{d}</description>"
        "<pubDate>Tue, 15 Jul 2025 02:00:00 GMT</pubDate></item>"
        for t, link, d in entries
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>{body}</channel></rss>'
    )


@pytest.fixture
def wire(feeds: FeedServer, workspace: Workspace) -> FeedServer:
    feeds.put("/art/1", (DATA / "pages" / "article_en.html").read_bytes(), "text/html; charset=utf-8")
    feeds.put("/art/zh", (DATA / "pages" / "article_zh.html").read_bytes(), "text/html")
    feeds.put("/private/2", "<html><body><article><p>secret</p></article></body></html>", "text/html")
    feeds.put("/art/sport", "<html><body><article><p>football</p></article></body></html>", "text/html")
    feeds.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    url = feeds.put(
        "/wire.xml",
        feed(
            (
                "US tightens AI chip export rules",
                "http://HOST/art/1?utm_source=rss",
                "Commerce adds export controls on chips for China.",
            ),
            ("美国收紧对华AI芯片出口管制", "http://HOST/art/zh", "商务部出口管制新规影响英伟达H20。"),
            (
                "Entity List additions hit Chinese chip firms",
                "http://HOST/private/2",
                "BIS adds entities to the Entity List.",
            ),
            ("Nvidia H20 export licence questions", "http://10.1.2.3/story", "Export controls on the H20 again."),
            (SPORT, "http://HOST/art/sport", "The match went to penalties."),
        ),
    )
    workspace.sources({"id": "wire", "url": url, "kind": "feed"})
    return feeds


@pytest.mark.sqlite_only
def test_articles_of_relevant_items_are_fetched_and_extracted(
    wire: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--once"]) == 0
    got = items(capsys)
    en = got["US tightens AI chip export rules"]
    assert en["article_status"] == "ok" and en["text_chars"] > 200
    assert en["canonical_url"] == wire.url("/2025/07/15/us-tightens-ai-chip-export-rules")
    with sqlite3.connect(workspace.database) as db:
        text = db.execute("select text from item where id = ?", (en["id"],)).fetchone()[0]
    assert "Subscribe" not in text and "Related stories" not in text
    assert "widening a licensing requirement" in text
    # stored as the judge and the stories read it: its paragraphs, without the page's headline
    assert text.startswith("The United States Commerce Department") and text.count("\n") == 4
    zh = got["美国收紧对华AI芯片出口管制"]
    assert zh["article_status"] == "ok" and zh["lang"] == "zh-Hans"
    assert zh["canonical_url"] == "https://www.example.cn/news/2025/0715/c1001-123456.html"


def test_robots_txt_and_private_addresses_are_honoured(
    wire: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", "--once"])
    got = items(capsys)
    robots = got["Entity List additions hit Chinese chip firms"]
    assert robots["article_status"] == "blocked" and "robots.txt" in robots["article_error"]
    assert wire.hits.get("/private/2", 0) == 0
    private = got["Nvidia H20 export licence questions"]
    assert private["article_status"] == "blocked" and "private" in private["article_error"]
    assert wire.hits["/robots.txt"] == 1  # once per host and cycle


def test_off_topic_items_are_kept_but_not_fetched_nor_digested(
    wire: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["run", "--once"])
    sport = items(capsys)[SPORT]
    assert sport["relevant"] is False and sport["relevant_why"] == "no topic terms"
    assert sport["article_status"] is None and wire.hits.get("/art/sport", 0) == 0
    capsys.readouterr()
    main(["digest"])
    digest = next((workspace.root / "storage" / "digests").glob("*.md")).read_text(encoding="utf-8")
    assert "football" not in digest and "US tightens AI chip export rules" in digest


def test_rerun_fetches_no_article_twice(wire: FeedServer, workspace: Workspace) -> None:
    main(["run", "--once"])
    main(["run", "--once"])
    assert wire.hits["/art/1"] == 1


def test_a_failed_article_keeps_its_item(
    feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds.server.expect_request("/art/broken").respond_with_data("boom", status=503)
    url = feeds.put(
        "/f.xml", feed(("Export controls on HBM widened", "http://HOST/art/broken", "BIS widens HBM export controls."))
    )
    workspace.sources({"id": "f", "url": url, "kind": "feed"})
    assert main(["run", "--once"]) == 0
    item = items(capsys)["Export controls on HBM widened"]
    assert item["article_status"] == "failed" and "503" in item["article_error"]


@pytest.mark.parametrize("page", ["zh_hans_gbk_meta", "zh_hant_big5_nodecl", "zh_gb18030_header", "en_listing"])
def test_page_sources_store_their_items(
    page: str, feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = (DATA / "pages" / f"{page}.html").read_bytes()
    ctype = "text/html; charset=gb18030" if "header" in page else "text/html"
    url = feeds.put(f"/{page}.html", raw, ctype)
    workspace.sources({"id": "p", "url": url, "kind": "page", "article": "never"})
    assert main(["run", "--once"]) == 0
    expected = json.loads((DATA / "pages" / f"{page}.json").read_text(encoding="utf-8"))["items"]
    got = items(capsys)
    assert sorted(got) == sorted(e["title"] for e in expected)
    for e in expected:
        assert got[e["title"]]["summary"] == e["summary"]
    assert main(["run", "--once"]) == 0  # a 304 the second time
    assert feeds.conditional_hits[f"/{page}.html"] == 1


def test_page_selectors_are_validated(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    workspace.write(
        "sources.toml",
        '[[source]]\nid = "p"\nurl = "http://127.0.0.1/x"\nkind = "page"\n\n[source.selectors]\nitem = "li["\n',
    )
    assert main(["run", "--once"]) == 2
    assert "invalid CSS selector" in capsys.readouterr().err
