"""Feeds and listing pages whose charset label is wrong (issue 16): stored as the original text.

Each case is served on loopback, polled by `monitor run --once` and read back with `monitor items
--json`: the stored titles must equal the text the server encoded, and a wrong label must show
as the source's warning. Correct labels (UTF-8, Big5) must pass as before, with no warning.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.cli import main
from monitor.collect.decode import decode_html_noting, detect_charset
from monitor.collect.parse.feeds import parse_feed
from tests.conftest import Workspace
from tests.loopback import scripted_server

SIMPLIFIED = ["美国商务部收紧对华人工智能芯片出口管制", "英伟达表示将遵守新的出口规定，H20芯片受影响"]
TRADITIONAL = ["美國商務部收緊對華人工智慧晶片出口管制", "輝達表示將遵守新的出口規定，H20晶片受影響"]
UTF8_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
RSS_UTF8 = "application/rss+xml; charset=utf-8"
GBK_AS_UTF8 = "declared utf-8 but the bytes are gb18030; decoded as gb18030"  # after "wrong charset: "


def rss(titles: list[str], declaration: str = UTF8_DECLARATION) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>http://news.example/{n}</link><guid>zh-{n}</guid>"
        f"<description>{t} (full story)</description></item>"
        for n, t in enumerate(titles)
    )
    return f'{declaration}<rss version="2.0"><channel><title>News</title>{items}</channel></rss>'


def listing(titles: list[str], meta: str = '<meta charset="utf-8">') -> str:
    links = "".join(f'<li><a href="/story/{n}">{t}</a></li>' for n, t in enumerate(titles))
    return f"<html><head>{meta}<title>News</title></head><body><ul>{links}</ul></body></html>"


GBK_UNDECLARED = "no encoding declared, and the bytes are gb18030; decoded as gb18030"
# (kind, document, its encoding, Content-Type, the titles in it, the warning shown or None)
CASES = [
    pytest.param("feed", rss(SIMPLIFIED), "gbk", RSS_UTF8, SIMPLIFIED, GBK_AS_UTF8, id="gbk declared utf-8"),
    pytest.param(
        "feed", rss(SIMPLIFIED), "gbk", "application/rss+xml", SIMPLIFIED, GBK_AS_UTF8, id="gbk, utf-8 in the XML only"
    ),
    pytest.param(
        "feed", rss(SIMPLIFIED, '<?xml version="1.0"?>'), "gbk", "text/xml", SIMPLIFIED, GBK_UNDECLARED, id="gbk, none"
    ),
    pytest.param(
        "feed", rss(TRADITIONAL), "big5", "application/rss+xml; charset=big5", TRADITIONAL, None, id="big5 as big5"
    ),
    pytest.param("feed", rss(SIMPLIFIED), "utf-8", RSS_UTF8, SIMPLIFIED, None, id="utf-8 as utf-8"),
    pytest.param(
        "page", listing(SIMPLIFIED), "gbk", "text/html; charset=utf-8", SIMPLIFIED, GBK_AS_UTF8, id="page: gbk as utf-8"
    ),
    pytest.param("page", listing(SIMPLIFIED), "utf-8", "text/html; charset=utf-8", SIMPLIFIED, None, id="page: utf-8"),
]


def json_out(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("kind", "document", "encoding", "content_type", "titles", "warning"), CASES)
def test_stored_titles_are_the_original_text(
    kind: str,
    document: str,
    encoding: str,
    content_type: str,
    titles: list[str],
    warning: str | None,
    workspace: Workspace,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the run table unfolded, one row per source
    workspace.write("monitor.toml", '[poll]\narticle = "never"\n')
    with scripted_server() as server:
        url = server.doc("/doc", document.encode(encoding), content_type)
        workspace.sources({"id": "zh", "url": url, "kind": kind})
        capsys.readouterr()
        assert main(["run", "--once"]) == 0
        table = capsys.readouterr().out
    items = json_out(capsys, "items", "--json", "--source", "zh")
    assert sorted(i["title"] for i in items) == sorted(titles)
    if warning:
        assert warning in table, table
    else:
        assert "declared" not in table and "malformed" not in table, table


def test_a_wrong_label_on_valid_utf8_is_not_redecoded() -> None:
    """feedparser reads UTF-8 bytes under a wrong legacy label as UTF-8 itself: nothing to detect."""
    content = rss(SIMPLIFIED, '<?xml version="1.0" encoding="gbk"?>').encode()
    parsed = parse_feed(content, {"content-type": "application/rss+xml"}, "http://news.example/feed")
    assert [i.title for i in parsed.items] == SIMPLIFIED
    assert parsed.warning == "malformed feed (CharacterEncodingOverride: document declared as gbk, but parsed as utf-8)"


def test_a_latin_feed_mislabelled_utf8_stays_windows_1252() -> None:
    """Detection guesses among the Latin codecs unreliably (cp1257 for French): not taken."""
    titles = ["Les États-Unis durcissent les contrôles à l’exportation", "Déjà vu: “Nvidia” réagit"]
    content = rss(titles).encode("cp1252")
    parsed = parse_feed(content, {"content-type": RSS_UTF8}, "http://news.example/feed")
    assert [i.title for i in parsed.items] == titles
    assert parsed.warning is not None and "windows-1252" in parsed.warning


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("<p>芯片出口</p>", "gbk", "gb18030"),  # ties with Big5, CP949 and Shift JIS: Chinese wins
        ("<p>出口管制新规</p>", "gbk", "gb18030"),  # ties with CP949
        ("<p>晶片出口</p>", "big5", "big5hkscs"),
        ("<p>輝達H20晶片受影響</p>", "big5", "big5hkscs"),  # Johab is a hair ahead of Big5
    ],
)
def test_detection_prefers_chinese_among_near_ties(text: str, encoding: str, expected: str) -> None:
    content = text.encode(encoding)
    assert detect_charset(content) == expected
    assert decode_html_noting(content, {"content-type": "text/html; charset=utf-8"}) == (
        text,
        f"declared utf-8 but the bytes are {expected}; decoded as {expected}",
    )


def test_a_page_with_a_right_label_has_no_note() -> None:
    page = listing(TRADITIONAL, '<meta charset="big5">')
    assert decode_html_noting(page.encode("big5"), {}) == (page, None)
    assert decode_html_noting(page.encode("utf-8"), {"content-type": "text/html; charset=UTF-8"}) == (page, None)
