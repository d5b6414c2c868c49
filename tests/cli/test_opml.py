"""OPML in and out: `monitor sources export` writes OPML 2.0 that `monitor sources import` reads
back into the same sources; an import adds only the feeds sources.toml lacks, keeps its comments,
reports what it did, and a broken file is one error line that changes nothing."""

from __future__ import annotations

import shutil
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from lxml import etree

from monitor.cli import main
from monitor.config import load_config
from tests.conftest import SHIPPED_CONFIG, Workspace

READER_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<!-- as Miniflux or NetNewsWire write it: folders, a podcast, a dead entry, repeats -->
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Tech policy" title="Tech policy">
      <outline type="rss" text="Chip Wire" title="Chip Wire" xmlUrl="https://wire.example/feed.xml" htmlUrl="https://wire.example/"/>
      <outline type="rss" text="芯片日报" xmlUrl="https://news.example.cn/rss?utm_source=reader" language="zh-CN"/>
      <outline type="rss" text="科技新報" xmlUrl="https://tech.example.tw/feed" language="zh-TW"/>
    </outline>
    <outline text="Elsewhere">
      <outline type="rss" text="Chip Wire (again)" xmlUrl="https://WIRE.example/feed.xml#top"/>
      <outline type="rss" text="Gopher" xmlUrl="gopher://old.example/1"/>
      <outline type="rss" text="Already here" xmlUrl="http://127.0.0.1:9/known.xml"/>
      <outline type="link" text="A page, not a feed" url="https://example.org/"/>
      <outline type="rss" text="Chip Wire" xmlUrl="https://other.example/chips.atom"/>
    </outline>
  </body>
</opml>
"""

SOURCES = """# my sources, with a comment that must survive an import
[[source]]
id = "known"
url = "http://127.0.0.1:9/known.xml"
kind = "feed"
"""


@pytest.fixture
def reader(workspace: Workspace) -> Workspace:
    workspace.write("sources.toml", SOURCES)
    (workspace.root / "subs.opml").write_text(READER_EXPORT, encoding="utf-8")
    return workspace


def test_import_adds_the_feeds_sources_toml_lacks_and_says_what_it_did(
    reader: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sources", "import", "subs.opml"]) == 0
    out = capsys.readouterr().out
    assert "added 4 feed(s)" in out and "skipped 3" in out
    assert "- line 12: https://WIRE.example/feed.xml#top: already a source (chip-wire)" in out
    assert "gopher://old.example/1: its URL must be an http:// or https:// URL" in out
    assert "http://127.0.0.1:9/known.xml: already a source (known)" in out
    text = (reader.config / "sources.toml").read_text(encoding="utf-8")
    assert text.startswith(SOURCES) and "# Imported from subs.opml on " in text
    sources = {s.id: s for s in load_config(reader.config, env={}, cwd=reader.root).sources}
    assert list(sources) == ["known", "chip-wire", "news-example-cn-rss", "tech-example-tw-feed", "chip-wire-2"]
    assert sources["news-example-cn-rss"].name == "芯片日报" and sources["news-example-cn-rss"].lang == "zh-Hans"
    assert sources["tech-example-tw-feed"].lang == "zh-Hant" and sources["chip-wire-2"].url.endswith("chips.atom")
    assert all(s.kind == "feed" for s in sources.values())

    assert main(["sources", "import", "subs.opml"]) == 0  # again: nothing new
    assert "added 0 feed(s)" in capsys.readouterr().out
    assert (reader.config / "sources.toml").read_text(encoding="utf-8") == text


def test_dry_run_writes_nothing(reader: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "import", "subs.opml", "--dry-run"]) == 0
    assert "would add 4 feed(s)" in capsys.readouterr().out
    assert (reader.config / "sources.toml").read_text(encoding="utf-8") == SOURCES


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        (b"", "not OPML: the XML is broken", None),
        (b"<opml version='2.0'><body><outline xmlUrl='https://a.example/f'></body></opml>", "XML is broken", 1),
        (b"<?xml version='1.0'?>\n<html><body><p>a web page</p></body></html>", "the root element is <html>", 2),
        (b"<opml version='2.0'>\n<head/>\n</opml>", "no <body> element", 1),
        (b"\xff\xfe\x00<\x00o", "not OPML", None),
    ],
)
def test_a_broken_file_is_one_error_line_and_changes_nothing(
    reader: Workspace, capsys: pytest.CaptureFixture[str], content: bytes, message: str, line: int | None
) -> None:
    (reader.root / "bad.opml").write_bytes(content)
    assert main(["sources", "import", "bad.opml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("config error: bad.opml") and message in err and "\n" not in err, err
    if line is not None:
        assert err.startswith(f"config error: bad.opml:{line}:"), err
    assert (reader.config / "sources.toml").read_text(encoding="utf-8") == SOURCES
    assert [p.name for p in reader.config.iterdir()] == ["sources.toml"]  # no temporary file left


def test_an_external_entity_is_refused_and_no_file_is_read(
    reader: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = reader.root / "secret.txt"
    secret.write_text("https://leak.example/feed", encoding="utf-8")
    hostile = f"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x SYSTEM "file://{secret}">]>
<opml version="2.0"><body>
<outline type="rss" text="x" xmlUrl="&x;"/>
</body></opml>"""
    (reader.root / "hostile.opml").write_text(hostile, encoding="utf-8")
    assert main(["sources", "import", "hostile.opml"]) == 2
    err = capsys.readouterr().err
    assert "hostile.opml:4: not OPML" in err and "external entity" in err and "leak.example" not in err
    assert (reader.config / "sources.toml").read_text(encoding="utf-8") == SOURCES


def test_internal_entities_are_not_expanded(reader: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 9))
    hostile = f"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY l0 "lol">{laughs}]>
<opml version="2.0"><body>
<outline type="rss" text="&l8;" xmlUrl="https://ok.example/feed"/>
</body></opml>"""
    (reader.root / "laughs.opml").write_text(hostile, encoding="utf-8")
    assert main(["sources", "import", "laughs.opml"]) in (0, 2)
    text = (reader.config / "sources.toml").read_text(encoding="utf-8")
    assert "lollol" not in text and len(text) < 2000


def test_export_is_opml_2_and_an_import_of_it_round_trips(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(SHIPPED_CONFIG / "sources.toml", workspace.config / "sources.toml")
    original = load_config(workspace.config, env={}, cwd=workspace.root).sources
    assert main(["sources", "export", "--output", "out.opml"]) == 0
    assert "left out 1 page source(s)" in capsys.readouterr().err
    document = (workspace.root / "out.opml").read_bytes()

    root = etree.fromstring(document)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") and parsedate_to_datetime(root.findtext("head/dateCreated")).tzinfo
    outlines = root.findall("body/outline")
    feeds = [s for s in original if s.kind == "feed"]
    assert len(outlines) == len(feeds) >= 20
    for outline, source in zip(outlines, feeds, strict=True):
        assert outline.get("type") == "rss" and outline.get("text") == source.label
        assert outline.get("xmlUrl") == source.url and outline.get("language") == source.lang

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config").mkdir()
    (elsewhere / "config" / "sources.toml").write_text("", encoding="utf-8")
    shutil.copy(workspace.root / "out.opml", elsewhere / "subs.opml")
    monkeypatch.chdir(elsewhere)
    assert main(["sources", "import", "subs.opml"]) == 0
    assert f"added {len(feeds)} feed(s)" in capsys.readouterr().out
    imported = load_config(elsewhere / "config", env={}, cwd=elsewhere).sources
    assert [(s.url, s.label, s.lang, s.kind) for s in imported] == [(s.url, s.label, s.lang, s.kind) for s in feeds]
    assert main(["sources", "export"]) == 0
    again = etree.fromstring(capsys.readouterr().out.encode())
    assert [dict(o.attrib) for o in again.findall("body/outline")] == [dict(o.attrib) for o in outlines]
