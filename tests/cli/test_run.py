"""End to end on loopback: `monitor run --once`, `items`, `sources`, `digest` against a real
HTTP server and a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from tests.conftest import DATA, FeedServer, Workspace

FIXTURES = {
    "rss2": ("rss2.xml", "application/rss+xml", 3),
    "atom": ("atom.xml", "application/atom+xml", 2),
    "rdf": ("rdf.xml", "application/rdf+xml", 2),
    "gb": ("gb18030.xml", "text/xml", 2),
    "big5": ("big5.xml", "text/xml", 2),
    "bad": ("malformed.xml", "application/xml", 2),
}


def run(*argv: str) -> int:
    return main(list(argv))


def items_json(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert run("items", "--json", *extra) == 0
    return list(json.loads(capsys.readouterr().out))


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def all_feeds(feeds: FeedServer, workspace: Workspace) -> FeedServer:
    entries = []
    for sid, (name, ctype, _n) in FIXTURES.items():
        entries.append({"id": sid, "url": feeds.put_file(f"/{name}", name, ctype), "kind": "feed"})
    workspace.sources(*entries)
    return feeds


@pytest.mark.sqlite_only
def test_first_run_stores_every_entry_then_304s_store_nothing(
    all_feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("run", "--once") == 0
    stored = items_json(capsys)
    by_source: dict[str, int] = {}
    for item in stored:
        by_source[item["source"]] = by_source.get(item["source"], 0) + 1
    assert by_source == {sid: n for sid, (_f, _c, n) in FIXTURES.items()}

    assert run("run", "--once") == 0
    out = capsys.readouterr().out
    assert "not_modified" in out
    assert len(items_json(capsys)) == len(stored)
    assert sum(all_feeds.conditional_hits.values()) == len(FIXTURES)
    assert rows(workspace.database, "PRAGMA integrity_check") == [("ok",)]


def test_legacy_encodings_are_decoded(
    all_feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    run("run", "--once")
    titles = {i["title"]: i for i in items_json(capsys)}
    assert titles["美国商务部将算力门槛从4800 TOPS降至2400 TOPS"]["lang"] == "zh-Hans"
    assert titles["华为昇腾910C性能达到H20约80%"]["summary"] == "寒武纪、华为加速构建软件生态。"
    assert titles["輝達恢復對華銷售H20晶片"]["lang"] == "zh-Hant"
    assert titles["高頻寬記憶體列入管制清單"]["summary"] == "三星與SK海力士對華供貨受影響。"


def test_items_json_has_documented_fields(
    all_feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    run("run", "--once")
    items = items_json(capsys)
    required = {
        "id",
        "source",
        "url",
        "canonical_url",
        "title",
        "summary",
        "published_at",
        "lang",
        "duplicate_of",
        "story_id",
        "relevant",
    }
    for item in items:
        assert required <= set(item)
        assert item["published_at"].endswith("Z")
    wire = next(i for i in items if i["title"].startswith("Commerce lowers"))
    assert wire["canonical_url"].endswith("/a/1")
    assert "utm_" in wire["url"]
    assert wire["summary"] == "BIS issued new rules on advanced computing chips."
    assert wire["published_at"] == "2023-10-17T14:00:00Z"
    h20 = next(i for i in items if i["title"].startswith("Nvidia to resume"))
    assert h20["published_at"] == "2025-07-14T18:00:00Z"  # +0800 converted to UTC
    only_gb = items_json(capsys, "--source", "gb")
    assert {i["source"] for i in only_gb} == {"gb"}
    recent = items_json(capsys, "--since", "2025-07-01")
    assert recent and all(i["published_at"] >= "2025-07-01" for i in recent)


def test_changed_feed_adds_only_new_entries(
    feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    original = (DATA / "feeds" / "rss2.xml").read_text(encoding="utf-8")
    url = feeds.put("/feed.xml", original)
    workspace.sources({"id": "wire", "url": url, "kind": "feed"})
    run("run", "--once")
    first = {i["id"] for i in items_json(capsys)}
    extra = (
        "<item><title>New BIS rule on HBM</title><link>http://HOST/a/4</link><guid>wire-4</guid>"
        "<pubDate>Tue, 14 Jan 2025 10:00:00 GMT</pubDate><description>More HBM controls.</description></item>"
    )
    feeds.put("/feed.xml", original.replace("</channel>", extra + "</channel>"))
    capsys.readouterr()
    run("run", "--once")
    assert "new" in capsys.readouterr().out
    after = items_json(capsys)
    added = [i for i in after if i["id"] not in first]
    assert [i["title"] for i in added] == ["New BIS rule on HBM"]
    assert len(after) == len(first) + 1


def test_tracking_variants_of_one_url_are_stored_once(
    feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    def feed(link: str, guid: str) -> str:
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            f"<item><title>Same story</title><link>{link}</link><guid>{guid}</guid>"
            "<description>One story, many links.</description></item></channel></rss>"
        )

    url_a = feeds.put("/a.xml", feed("http://HOST/s?id=7&amp;utm_source=a", "a-1"))
    url_b = feeds.put("/b.xml", feed("HTTP://HOST/s?utm_medium=x&amp;id=7&amp;fbclid=zz#top", "b-1"))
    url_c = feeds.put("/c.xml", feed("http://HOST/s?id=7&amp;gclid=1&amp;spm=2", "c-1"))
    workspace.sources(
        {"id": "a", "url": url_a, "kind": "feed"},
        {"id": "b", "url": url_b, "kind": "feed"},
        {"id": "c", "url": url_c, "kind": "feed"},
    )
    run("run", "--once")
    items = sorted(items_json(capsys), key=lambda i: i["id"])
    assert len({i["canonical_url"] for i in items}) == 1
    originals = [i for i in items if i["duplicate_of"] is None]
    assert len(originals) == 1
    assert all(i["duplicate_of"] == originals[0]["id"] for i in items if i is not originals[0])


def test_failing_source_does_not_stop_the_others(
    feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    good = feeds.put_file("/good.xml", "atom.xml", "application/atom+xml")
    feeds.server.expect_request("/broken.xml").respond_with_data("oops", status=500)
    workspace.sources(
        {"id": "broken", "url": feeds.url("/broken.xml"), "kind": "feed"},
        {"id": "good", "url": good, "kind": "feed"},
        {
            "id": "html",
            "url": feeds.put("/page.html", "<html><body><p>not a feed</p></body></html>", "text/html"),
            "kind": "feed",
        },
    )
    assert run("run", "--once") == 0
    out = capsys.readouterr().out
    assert "HTTP 500" in out
    assert len(items_json(capsys)) == 2

    capsys.readouterr()
    assert run("sources", "--json") == 0
    health = {s["id"]: s for s in json.loads(capsys.readouterr().out)}
    assert health["broken"]["last_status"] == "error"
    assert health["broken"]["consecutive_errors"] == 1
    assert "HTTP 500" in health["broken"]["last_error"]
    assert health["html"]["last_status"] == "error"
    assert health["good"]["last_status"] == "ok"
    assert health["good"]["item_count"] == 2
    assert run("sources") == 0
    assert "broken" in capsys.readouterr().out


def test_every_source_failing_exits_1(feeds: FeedServer, workspace: Workspace) -> None:
    feeds.server.expect_request("/x.xml").respond_with_data("gone", status=404)
    workspace.sources({"id": "x", "url": feeds.url("/x.xml"), "kind": "feed"})
    assert run("run", "--once") == 1


def test_unreachable_host_is_an_error_row_not_a_traceback(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.sources({"id": "nowhere", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed"})
    assert run("run", "--once") == 1
    captured = capsys.readouterr()
    assert "nowhere" in captured.out and "error" in captured.out
    assert "Traceback" not in captured.err


@pytest.mark.sqlite_only
def test_bad_config_exits_2_with_file_and_line(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    workspace.write("sources.toml", '[[source]]\nid = "a"\nurl = "http://127.0.0.1/x"\nkind = "feed"\ncolour = "red"\n')
    assert run("run", "--once") == 2
    err = capsys.readouterr().err
    assert "sources.toml:5" in err and "[a]" in err and "colour" in err and "unknown key" in err
    assert not workspace.database.exists()


def test_digest_writes_markdown_of_new_items(
    all_feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    run("run", "--once")
    capsys.readouterr()
    assert run("digest") == 0
    written = sorted((workspace.root / "storage" / "digests").glob("*.md"))
    assert len(written) == 1
    text = written[0].read_text(encoding="utf-8")
    assert "輝達恢復對華銷售H20晶片" in text
    assert (
        "Commerce lowers AI\\-chip threshold & adds entities" in text
        or "Commerce lowers AI\\-chip threshold \\& adds entities" in text
    )
    assert "(<http://" in text
    # the next digest covers only what came since: nothing new
    assert run("digest", "--out", str(workspace.root / "storage" / "other")) == 0
    again = next((workspace.root / "storage" / "other").glob("*.md")).read_text(encoding="utf-8")
    assert "Nothing new in this period." in again


@pytest.mark.sqlite_only
def test_a_304_is_recorded_with_the_next_poll_and_ends_a_run_of_errors(
    feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 304 has no transaction of its own: it is written with the cycle's next polls (one
    transaction for all of them). It still counts as a success: the source's errors are reset,
    its time of success and status are the 304's, its validators kept."""
    url = feeds.put_file("/rss2.xml", "rss2.xml")
    workspace.sources({"id": "s", "url": url, "kind": "feed"})
    assert run("run", "--once") == 0
    db = workspace.database
    query = "SELECT last_status, last_success_at, consecutive_errors, etag, next_poll_at, failing_since FROM source"
    [(status, first_success, errors, etag, _, _)] = rows(db, query)
    assert (status, errors) == ("ok", 0) and etag
    with sqlite3.connect(db) as conn:  # as if the polls since had failed; due again now
        conn.execute("UPDATE source SET consecutive_errors = 3, failing_since = last_success_at, next_poll_at = NULL")
    assert run("run", "--once") == 0
    assert "not_modified" in capsys.readouterr().out
    [(status, success, errors, kept, next_poll, failing)] = rows(db, query)
    assert (status, errors, kept, failing) == ("not_modified", 0, etag, None)
    assert success > first_success and next_poll is not None  # NULL before this run
