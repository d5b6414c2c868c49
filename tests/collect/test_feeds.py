"""Feed parsing: formats, encodings from the prolog, malformed feeds, incomplete entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.collect.parse.feeds import parse_feed
from tests.conftest import DATA


def parse(name: str, content_type: str = "application/xml") -> list[tuple[str, str | None]]:
    feed = parse_feed((DATA / "feeds" / name).read_bytes(), {"content-type": content_type}, "http://h/")
    return [(i.title, i.url) for i in feed.items]


@pytest.mark.parametrize(
    ("name", "first_title"),
    [
        ("rss2.xml", "Commerce lowers AI-chip threshold & adds entities"),
        ("atom.xml", "Huawei Ascend 910C ramps up"),
        ("rdf.xml", "Cambricon revenue soars"),
        ("gb18030.xml", "美国商务部将算力门槛从4800 TOPS降至2400 TOPS"),
        ("big5.xml", "輝達恢復對華銷售H20晶片"),
    ],
)
def test_formats_and_encodings(name: str, first_title: str) -> None:
    assert parse(name)[0][0] == first_title


def test_atom_prefers_published_and_longer_content() -> None:
    feed = parse_feed((DATA / "feeds" / "atom.xml").read_bytes(), {}, "http://h/")
    tsmc = feed.items[1]
    assert tsmc.published_at == datetime(2024, 11, 8, 9, tzinfo=UTC)
    assert tsmc.summary == "TSMC told Chinese customers it would stop making chips at 7 nm and below."


def test_malformed_feed_keeps_recovered_entries_with_a_warning() -> None:
    feed = parse_feed((DATA / "feeds" / "malformed.xml").read_bytes(), {}, "http://h/")
    assert len(feed.items) == 2
    assert feed.warning and "malformed" in feed.warning


def test_incomplete_entries_follow_the_documented_rules() -> None:
    doc = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>No guid</title><link>http://h/1</link></item>
    <item><title>Guid is a URL, no link</title><guid>http://h/2</guid></item>
    <item><title>Nothing but a title</title></item>
    <item><description>   </description></item>
    </channel></rss>"""
    items = parse_feed(doc, {}, "http://h/").items
    assert [(i.guid, i.url) for i in items[:2]] == [("http://h/1", "http://h/1"), ("http://h/2", "http://h/2")]
    assert items[2].url is None and items[2].guid.startswith("sha1:")
    assert len(items) == 3  # the empty entry is skipped
    assert all(i.published_at is None for i in items)


def test_charset_in_header_is_used_when_prolog_has_none() -> None:
    doc = '<?xml version="1.0"?><rss version="2.0"><channel><title>新闻</title><item><title>芯片出口管制</title><link>http://h/1</link></item></channel></rss>'
    feed = parse_feed(doc.encode("gb18030"), {"content-type": "application/xml; charset=gb18030"}, "http://h/")
    assert feed.items[0].title == "芯片出口管制"
