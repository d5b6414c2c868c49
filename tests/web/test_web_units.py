"""The web side's pure parts: search queries and documents, the review order, listen addresses,
CSRF and origin checks. Table-driven, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.records import StoredFlag, StoredItem
from monitor.web import security, views


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("threshold", ('"threshold"', ["threshold"])),
        ("Export  CONTROLS", ('"export" AND "controls"', ["export", "controls"])),
        ("台積電", ('"台 积 电"', ["台积电"])),  # folded to simplified, a phrase of its characters
        ("ＮＶＩＤＩＡ H20", ('"nvidia" AND "h20"', ["nvidia", "h20"])),  # full-width folded
        ('英伟达"芯片', ('"英 伟 达" AND "芯 片"', ["英伟达", "芯片"])),  # a quote separates, never escapes
        ("a* OR (b) NEAR:c -d ^e", ('"a" AND "or" AND "b" AND "near" AND "c" AND "d" AND "e"', None)),
        ('" * () "', None),
        ("", None),
    ],
)
def test_search_query(query: str, expected: tuple[str, list[str] | None] | None) -> None:
    got = views.search_query(query)
    if expected is None:
        assert got is None
        return
    assert got is not None and got[0] == expected[0]
    if expected[1] is not None:
        assert got[1] == expected[1]


def test_search_document_folds_and_spaces() -> None:
    item = _item(1, title="台積電 H20", summary="ＥＸＰＯＲＴ 管制", text="出口")
    assert views.search_document(item) == (" 台  积  电  h20", "export  管  制   出  口 ")


def test_review_queue_best_first_new_only() -> None:
    flags = [
        _flag(1, 0.5, "new", day=1),
        _flag(2, 0.9, "confirmed", day=1),
        _flag(3, 0.9, "new", day=1),
        _flag(4, 0.9, "new", day=3),
        _flag(5, 0.7, "dismissed", day=1),
    ]
    assert [f.id for f in views.review_queue(flags)] == [4, 3, 1]  # score, then the newest item


@pytest.mark.parametrize(
    ("value", "host", "port", "loopback"),
    [
        ("127.0.0.1:8080", "127.0.0.1", 8080, True),
        ("[::1]:9000", "::1", 9000, True),
        ("localhost:80", "localhost", 80, True),
        ("0.0.0.0:8080", "0.0.0.0", 8080, False),
        ("[::]:8080", "::", 8080, False),
        ("10.0.0.5:8080", "10.0.0.5", 8080, False),
        ("monitor.example:8080", "monitor.example", 8080, False),
    ],
)
def test_listen_addresses(value: str, host: str, port: int, loopback: bool) -> None:
    listen = security.parse_listen(value)
    assert (listen.host, listen.port, listen.loopback) == (host, port, loopback)


@pytest.mark.parametrize(
    ("cookie", "sent", "ok"),
    [("abc", "abc", True), ("abc", "abd", False), (None, "abc", False), ("abc", None, False), ("", "", False)],
)
def test_csrf_ok(cookie: str | None, sent: str | None, ok: bool) -> None:
    assert security.csrf_ok(cookie, sent) is ok


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        (None, "127.0.0.1:8080", True),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
        ("http://127.0.0.1:8081", "127.0.0.1:8080", False),
        ("https://evil.example", "127.0.0.1:8080", False),
        ("null", "127.0.0.1:8080", False),
    ],
)
def test_origin_ok(origin: str | None, host: str, ok: bool) -> None:
    assert security.origin_ok(origin, host) is ok


def test_settings_reject_a_malformed_listen() -> None:
    from pydantic import ValidationError

    from monitor.settings import WebSettings

    for bad in ("8080", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", ":8080"):
        with pytest.raises(ValidationError):
            WebSettings(listen=bad)
    assert WebSettings().listen == "127.0.0.1:8080"


def _item(item_id: int, *, title: str = "t", summary: str = "s", text: str | None = None, day: int = 1) -> StoredItem:
    when = datetime(2025, 7, day, tzinfo=UTC)
    return StoredItem(
        item_id, "wire", f"g{item_id}", None, None, title, summary, "en", when, when, None, None, None, True, None, text
    )


def _flag(flag_id: int, score: float, state: str, *, day: int) -> StoredFlag:
    item = _item(flag_id, day=day)
    return StoredFlag(flag_id, "C01", "supports", score, "e", None, state, None, item.fetched_at, None, item, ("wire",))
