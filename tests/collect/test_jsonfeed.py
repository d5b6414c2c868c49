"""JSON Feed 1.0 and 1.1 sources: the same checks as the RSS and Atom ones (tests/collect/test_feeds.py,
tests/cli/test_run.py). The parse gives the items the XML twin of each file gives; incomplete entries
follow the same rules; broken and careless files keep what can be kept, with a warning, or fail
the source with a clear error; end to end on loopback: conditional GET, only new entries added,
tracking variants and copies across formats stored once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.cli import main
from monitor.collect.parse.feeds import parse_feed
from monitor.collect.parse.jsonfeed import is_json_feed, parse_date
from tests.conftest import DATA, FeedServer, Workspace

JSON = {"content-type": "application/feed+json"}


def parsed(name: str, headers: dict[str, str] | None = None) -> Any:
    return parse_feed((DATA / "feeds" / name).read_bytes(), JSON if headers is None else headers, "http://h/")


@pytest.mark.parametrize(
    ("json_name", "xml_name"), [("jsonfeed-1.0.json", "rss2.xml"), ("jsonfeed-1.1.json", "big5.xml")]
)
@pytest.mark.parametrize("headers", [JSON, {"content-type": "application/json"}, {}])
def test_a_json_feed_gives_the_items_of_its_xml_twin(json_name: str, xml_name: str, headers: dict[str, str]) -> None:
    from_json = parsed(json_name, headers)
    from_xml = parse_feed((DATA / "feeds" / xml_name).read_bytes(), {}, "http://h/")
    assert from_json.warning is None and from_json.title == from_xml.title
    assert [replace(i, lang=None) for i in from_json.items] == [replace(i, lang=None) for i in from_xml.items]
    if json_name.endswith("1.1.json"):  # 1.1 has a language, the feed's and the item's
        assert {i.lang for i in from_json.items} == {"zh-Hant"}


def test_incomplete_entries_follow_the_documented_rules() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [
            {"title": "No id", "url": "http://h/1"},
            {"title": "Id is a URL, no url", "id": "http://h/2"},
            {"title": "An external link only", "id": "x3", "external_url": "http://elsewhere/3"},
            {"title": "Nothing but a title"},
            {"content_text": "   ", "id": "empty"},
        ],
    }
    items = parse_feed(json.dumps(doc).encode(), JSON, "http://h/").items
    assert [(i.guid, i.url) for i in items[:3]] == [
        ("http://h/1", "http://h/1"),
        ("http://h/2", "http://h/2"),
        ("x3", "http://elsewhere/3"),
    ]
    assert items[3].url is None and items[3].guid.startswith("sha1:")
    assert len(items) == 4  # the empty entry is skipped
    assert all(i.published_at is None for i in items)


def test_a_careless_feed_keeps_what_it_can_with_a_warning_naming_the_faults() -> None:
    feed = parsed("jsonfeed-partial.json")
    assert [i.guid for i in feed.items] == ["42", "p-2", "http://HOST/p/3", "p-4", feed.items[4].guid]
    assert feed.items[0].published_at == datetime(2025, 7, 15, tzinfo=UTC)  # a date alone: midnight UTC
    assert feed.items[1].url is None and feed.items[2].title == "" and feed.items[3].published_at is None
    assert feed.warning is not None and feed.warning.startswith("malformed feed (item 2 is not an object;")
    assert "and 1 more" in feed.warning


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        ((DATA / "feeds" / "jsonfeed-broken.json").read_bytes(), "malformed feed (not JSON: Invalid control character"),
        (b"{", "malformed feed (not JSON: Expecting property name"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": {"id": 1}}',
            "malformed feed (items is not a list)",
        ),
        (b'{"title": "no version", "items": []}', "not a feed (JSON, no JSON Feed version)"),
        (b'{"version": "https://jsonfeed.org/version/9", "items": []}', "is not a JSON Feed version"),
        (b"[1, 2, 3]", "not a feed (JSON, no JSON Feed version)"),
    ],
)
def test_broken_documents_are_a_warning_with_no_items(body: bytes, warning: str) -> None:
    feed = parse_feed(body, {"content-type": "application/json"}, "http://h/")
    assert feed.items == [] and feed.warning is not None and warning in feed.warning, feed.warning


def test_json_is_recognised_by_media_type_or_first_byte_never_an_xml_feed() -> None:
    assert is_json_feed(b"  \n{", {})
    assert is_json_feed(b"\xef\xbb\xbf{", {})
    assert is_json_feed(b"", {"content-type": "application/feed+json; charset=utf-8"})
    assert not is_json_feed((DATA / "feeds" / "rss2.xml").read_bytes(), {"content-type": "application/rss+xml"})


def test_a_feed_in_another_charset_is_decoded_and_says_so() -> None:
    body = (DATA / "feeds" / "jsonfeed-1.1.json").read_text(encoding="utf-8").encode("big5hkscs")
    labelled = parse_feed(body, {"content-type": "application/feed+json; charset=big5"}, "http://h/")
    assert labelled.items[0].title == "輝達恢復對華銷售H20晶片"
    assert labelled.warning and "decoded as declared" in labelled.warning
    unlabelled = parse_feed(body, JSON, "http://h/")
    assert unlabelled.items[1].summary == "三星與SK海力士對華供貨受影響。"
    assert unlabelled.warning and "decoded as detected" in unlabelled.warning


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-07-15T02:00:00+08:00", datetime(2025, 7, 14, 18, tzinfo=UTC)),
        ("2025-07-15T02:00:00.123-0130", datetime(2025, 7, 15, 3, 30, tzinfo=UTC)),
        ("2025-07-15t02:00:00z", datetime(2025, 7, 15, 2, tzinfo=UTC)),
        ("2025-07-15 02:00", datetime(2025, 7, 15, 2, tzinfo=UTC)),
        ("2025-02-30T00:00:00Z", None),
        ("Tue, 15 Jul 2025 02:00:00 GMT", None),
        ("", None),
    ],
)
def test_rfc3339_dates(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


# -- end to end on loopback ------------------------------------------------------------------


def items(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["items", "--json"]) == 0
    return list(json.loads(capsys.readouterr().out))


def test_json_feed_sources_poll_with_conditional_get_and_store_each_entry_once(
    feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    v10 = feeds.put_file("/feed.json", "jsonfeed-1.0.json", "application/feed+json")
    v11 = feeds.put_file("/zh.json", "jsonfeed-1.1.json", "application/json")
    workspace.sources({"id": "wire", "url": v10, "kind": "feed"}, {"id": "zh", "url": v11, "kind": "feed"})
    assert main(["run", "--once"]) == 0
    stored = items(capsys)
    assert sorted(i["source"] for i in stored) == ["wire", "wire", "wire", "zh", "zh"]
    wire = next(i for i in stored if i["title"].startswith("Commerce lowers"))
    assert wire["canonical_url"].endswith("/a/1") and "utm_" in wire["url"]
    assert wire["summary"] == "BIS issued new rules on advanced computing chips."
    h20 = next(i for i in stored if i["title"].startswith("Nvidia to resume"))
    assert h20["published_at"] == "2025-07-14T18:00:00Z"
    assert {i["lang"] for i in stored if i["source"] == "zh"} == {"zh-Hant"}

    assert main(["run", "--once"]) == 0
    assert "not_modified" in capsys.readouterr().out
    assert feeds.conditional_hits == {"/feed.json": 1, "/zh.json": 1}
    assert len(items(capsys)) == 5

    doc = json.loads((DATA / "feeds" / "jsonfeed-1.0.json").read_text(encoding="utf-8"))
    doc["items"].insert(0, {"id": "wire-4", "url": "http://HOST/a/4", "title": "New BIS rule on HBM"})
    feeds.put("/feed.json", json.dumps(doc), "application/feed+json")
    assert main(["run", "--once"]) == 0
    added = [i for i in items(capsys) if i["title"] == "New BIS rule on HBM"]
    assert len(added) == 1 and len(items(capsys)) == 6


def test_the_same_story_in_a_json_feed_and_an_rss_feed_is_one_original_and_a_copy(
    feeds: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    rss = feeds.put_file("/rss.xml", "rss2.xml")
    js = feeds.put_file("/feed.json", "jsonfeed-1.0.json", "application/feed+json")
    workspace.sources({"id": "rss", "url": rss, "kind": "feed"}, {"id": "json", "url": js, "kind": "feed"})
    assert main(["run", "--once"]) == 0
    stored = items(capsys)
    assert len(stored) == 6
    originals = [i for i in stored if i["duplicate_of"] is None]
    assert len(originals) == 3 and len({i["canonical_url"] for i in stored}) == 3


@pytest.mark.parametrize(
    ("name", "status", "shown"),
    [
        ("jsonfeed-broken.json", 1, "no entries: malformed feed (not JSON"),
        ("jsonfeed-partial.json", 0, "malformed feed (item 2 is not an object"),
    ],
)
def test_a_broken_json_feed_fails_its_source_and_a_careless_one_warns(
    feeds: FeedServer,
    workspace: Workspace,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    status: int,
    shown: str,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the run table unfolded, one row per source
    workspace.sources({"id": "j", "url": feeds.put_file("/f.json", name, "application/feed+json"), "kind": "feed"})
    assert main(["run", "--once"]) == status
    assert shown in capsys.readouterr().out
    assert main(["sources", "--json"]) == 0
    [source] = json.loads(capsys.readouterr().out)
    assert (source["last_error"] is not None) == bool(status)
    assert len(items(capsys)) == (0 if status else 5)
