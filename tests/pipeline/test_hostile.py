"""Hostile sources on loopback: each misbehaves in one way beside a well-behaved control source.

For every case, `monitor run --once` finishes in bounded time, the reason is shown (in the run
table, and for failures in `monitor sources --json` as `last_error`), the control source is
stored as usual, and what the hostile source did store is clean and bounded.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from monitor.cli import main
from monitor.text.normalize import MAX_TITLE
from tests.conftest import Workspace
from tests.loopback import Handler, ScriptedServer, item, rss, scripted_server

TIMEOUT, DEADLINE, CAP = 1.5, 3.0, 2_000_000
MONITOR_TOML = f"""\
[http]
timeout = {TIMEOUT}
deadline = {DEADLINE}
max_bytes = {CAP}
max_redirects = 3

[poll]
article = "never"
"""
CONTROL_ITEMS = 3
CONTROL = rss(*(item(n, host="control.example") for n in range(CONTROL_ITEMS)), title="Control")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# -- the misbehaviours -------------------------------------------------------------------


def trickle(h: Handler, stop: threading.Event) -> None:
    """One byte a second: every read is quick enough for the timeout, the whole never is."""
    h.start(Content_Length="1000")
    for _ in range(1000):
        if stop.wait(1.0):
            return
        h.wfile.write(b" ")
        h.wfile.flush()


def stall(h: Handler, stop: threading.Event) -> None:
    """Accept the request and never answer."""
    stop.wait(60)


def endless(h: Handler, stop: threading.Event) -> None:
    """A body that never ends (no length; the connection is never closed)."""
    h.start(Connection="close")
    h.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>')
    while not stop.is_set():
        h.wfile.write(b"x" * 65536)


def reset_mid_body(h: Handler, stop: threading.Event) -> None:
    body = CONTROL.encode()
    h.start(Content_Length=str(len(body)))
    h.wfile.write(body[: len(body) // 2])
    h.reset()


def redirect_loop(h: Handler, stop: threading.Event) -> None:
    h.respond(b"", status=302, Location="/loop-b" if h.path == "/loop-a" else "/loop-a")


@functools.cache
def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * 50_000_000, compresslevel=9)


def _set(server: ScriptedServer, path: str, script: Callable[[Handler, threading.Event], None]) -> str:
    return server.script(path, script)


def _loop(server: ScriptedServer) -> str:
    server.script("/loop-b", redirect_loop)
    return server.script("/loop-a", redirect_loop)


def many_entries() -> bytes:
    return rss(*(f"<title>T{n}</title><link>http://m.example/{n}</link>" for n in range(MANY))).encode()


def many_after_the_control(server: ScriptedServer) -> Callable[[Handler, threading.Event], None]:
    """The 10,000 entries, sent once the control source has had its answer: parsing them holds
    the event loop for seconds, and a download in flight meanwhile would miss its deadline (see
    the test below); here the case is the feed itself."""

    def respond(h: Handler, stop: threading.Event) -> None:
        while not server.hits["/control"] and not stop.wait(0.01):
            pass
        stop.wait(0.5)
        h.respond(many_entries())

    return respond


BIG = rss(item(1, "A" * 1_000_000), item(2, "Small title"))
CONTROL_AND_NUL = rss(
    "<title>Nul\x00byte, \x01\x02bells\x07 and \x1b[31mescapes&#1;</title><link>http://news.example/c\x00x</link>"
    "<guid>ctl-1</guid><description>sum\x00mary\x0b here</description>",
    item(2),
)
DATES = rss(
    item("invalid", date="Mon, 30 Feb 2025 25:61:00 GMT"),
    item("garbage", date="not a date at all"),
    item("zero", date="0000-00-00T00:00:00Z"),
    item("far", date="Fri, 31 Dec 9999 23:59:59 GMT"),
    item("next-century", date="Sat, 01 Jan 2150 00:00:00 GMT"),
    item("ok", date="Tue, 15 Jul 2025 10:00:00 GMT"),
)
MANY = 10_000
DUPLICATE_GUIDS = rss(
    "<title>First</title><link>http://news.example/1</link><guid>same</guid><description>one</description>",
    "<title>Second</title><link>http://news.example/2</link><guid>same</guid><description>two</description>",
    "<title>Third</title><link>http://news.example/3</link><guid>same</guid><description>three</description>",
    item(4),
)
HTML_PAGE = "<!DOCTYPE html><html><head><title>Home</title></head><body><h1>News</h1><p>Read <a href=/a>this<br></a>"
XHTML_PAGE = (
    '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>Home</title></head>'
    '<body><p><a href="/a">A story</a></p></body></html>'
)
BROKEN_TAIL = rss(item(1), item(2))[:-40] + "<item><title>cut off"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def _no_control_characters(items: list[dict[str, Any]]) -> None:
    assert len(items) == 2
    for stored in items:
        for key in ("title", "summary", "url", "canonical_url"):
            assert not CONTROL_CHARS.search(stored[key] or ""), (key, stored[key])
    title = next(i["title"] for i in items if i["title"].startswith("Nul"))
    assert title == "Nul byte, bells and [31mescapes"


def _title_capped(items: list[dict[str, Any]]) -> None:
    assert sorted(len(i["title"]) for i in items) == [len("Small title"), MAX_TITLE]


def _dates_settled(items: list[dict[str, Any]]) -> None:
    notes = {i["url"].rsplit("/", 1)[1]: (i["published_at"], i["date_note"]) for i in items}
    assert set(notes) == {"invalid", "garbage", "zero", "far", "next-century", "ok"}
    for bad in ("invalid", "garbage", "zero"):
        assert notes[bad][1] == "missing: time fetched used"
    for future in ("far", "next-century"):
        assert "clamped to time fetched" in notes[future][1]
        assert notes[future][0] < "2100"
    assert notes["ok"] == ("2025-07-15T10:00:00Z", None)


def _all_many(items: list[dict[str, Any]]) -> None:
    assert len(items) == MANY
    assert len({i["url"] for i in items}) == MANY


def _first_of_a_guid(items: list[dict[str, Any]]) -> None:
    assert sorted(i["title"] for i in items) == ["First", "Story 4"]


@dataclass(frozen=True)
class Case:
    name: str
    serve: Callable[[ScriptedServer], str]
    outcome: str  # "error": the source fails; "ok": it is stored (maybe with a warning)
    reason: str  # regex of the reason shown: `last_error` and the table; for "ok", the table's warning
    check: Callable[[list[dict[str, Any]]], None] | None = None
    stored: int = 0
    bound: float = DEADLINE + 12  # seconds the whole run may take (the control source included)


CASES = [
    Case(
        "trickle", lambda s: _set(s, "/trickle", trickle), "error", rf"fetch: no complete response within {DEADLINE:g}s"
    ),
    Case("stalled response", lambda s: _set(s, "/stall", stall), "error", r"fetch: timed out \(ReadTimeout\)"),
    Case(
        "endless body", lambda s: _set(s, "/endless", endless), "error", rf"fetch: response is over the {CAP}-byte cap"
    ),
    Case(
        "body over the cap",
        lambda s: s.doc("/big", b"x" * (CAP + 1)),
        "error",
        rf"fetch: response of {CAP + 1} bytes is over the {CAP}-byte cap",
    ),
    Case("redirect loop", _loop, "error", r"fetch: more than 3 redirects"),
    Case(
        "429 with Retry-After",
        lambda s: s.doc("/busy", b"slow down", "text/plain", 429, Retry_After="120"),
        "error",
        r"fetch: HTTP 429 Too Many Requests \(Retry-After: 120s\)",
    ),
    Case(
        "429 with a Retry-After of 10^9 seconds",
        lambda s: s.doc("/sleepy", b"slow down", "text/plain", 429, Retry_After="1000000000"),
        "error",
        r"fetch: HTTP 429 Too Many Requests \(Retry-After: 1,000,000,000s \(31\.7 years\)\)",
    ),
    Case(
        "503 with an HTTP-date Retry-After",
        lambda s: s.doc("/later", b"down", "text/plain", 503, Retry_After="Fri, 31 Dec 9999 23:59:59 GMT"),
        "error",
        r"fetch: HTTP 503 Service Unavailable \(Retry-After: [\d,]+s \(7,9\d\d\.\d years\)\)",
    ),
    Case(
        "500",
        lambda s: s.doc("/oops", b"<h1>Internal Server Error</h1>", "text/html", 500),
        "error",
        r"fetch: HTTP 500 Internal Server Error",
    ),
    Case(
        "connection reset mid-body",
        lambda s: _set(s, "/reset", reset_mid_body),
        "error",
        r"fetch: (ReadError: .*Connection reset by peer|RemoteProtocolError: .*closed)",
    ),
    Case(
        "feed served as text/plain",
        lambda s: s.doc("/plain", CONTROL.replace("control.example", "plain.example"), "text/plain"),
        "ok",
        r"malformed feed \(NonXMLContentType: text/plain is not an XML media type\)",
        stored=CONTROL_ITEMS,
    ),
    Case(
        "image served as a feed",
        lambda s: s.doc("/png", PNG, "application/rss+xml"),
        "error",
        r"parse: no entries: malformed feed \(SAXParseException",
    ),
    Case(
        "gzip bomb",
        lambda s: s.doc("/bomb", gzip_bomb(), Content_Encoding="gzip"),
        "error",
        rf"fetch: response is over the {CAP}-byte cap",
    ),
    Case(
        "invalid XML, entries recoverable",
        lambda s: s.doc("/cut", BROKEN_TAIL),
        "ok",
        r"malformed feed \(SAXParseException",
        stored=2,
    ),
    Case(
        "invalid XML, nothing recoverable",
        lambda s: s.doc("/junk", "<rss><<<&&&>>></chan"),
        "error",
        r"parse: no entries: malformed feed \(SAXParseException",
    ),
    Case("1 MB title", lambda s: s.doc("/huge", BIG), "ok", "", _title_capped, stored=2),
    Case(
        "control characters and NUL bytes",
        lambda s: s.doc("/ctl", CONTROL_AND_NUL),
        "ok",
        r"malformed feed \(SAXParseException",
        _no_control_characters,
        stored=2,
    ),
    Case("invalid and far-future dates", lambda s: s.doc("/dates", DATES), "ok", "", _dates_settled, stored=6),
    Case(
        "10,000-entry feed",
        lambda s: _set(s, "/many", many_after_the_control(s)),
        "ok",
        "",
        _all_many,
        stored=MANY,
        bound=90,  # parsing and storing 10,000 entries, not waiting
    ),
    Case("duplicate guids within a feed", lambda s: s.doc("/dups", DUPLICATE_GUIDS), "ok", "", _first_of_a_guid, 2),
    Case(
        "HTML page served as a feed (text/html)",
        lambda s: s.doc("/page", HTML_PAGE, "text/html; charset=utf-8"),
        "error",
        r"parse: no entries: malformed feed \((NonXMLContentType|SAXParseException)",
    ),
    Case(
        "XHTML page served as RSS",
        lambda s: s.doc("/xhtml", XHTML_PAGE, "application/rss+xml"),
        "error",
        r"parse: no entries: not a feed \(no RSS, Atom or RDF root element\)",
    ),
    Case(
        "empty 200 response",
        lambda s: s.doc("/empty", b""),
        "error",
        r"parse: no entries: not a feed \(empty document\)",
    ),
]


# -- running -------------------------------------------------------------------------------


@pytest.fixture
def hostile(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("COLUMNS", "400")  # the run table unfolded, one row per source
    workspace.write("monitor.toml", MONITOR_TOML)
    return workspace


def run_cycle(capsys: pytest.CaptureFixture[str]) -> tuple[int, float, str]:
    capsys.readouterr()
    began = time.monotonic()
    status = main(["run", "--once"])
    seconds = time.monotonic() - began
    return status, seconds, capsys.readouterr().out


def json_out(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def table_row(table: str, source: str) -> str:
    rows = [line for line in table.splitlines() if re.match(rf"\W*{re.escape(source)}\s", line)]
    assert len(rows) == 1, table
    return rows[0]


def assert_case(case: Case, sid: str, table: str, health: dict[str, Any], items: list[dict[str, Any]]) -> None:
    state = health[sid]
    row = table_row(table, sid)
    if case.outcome == "error":
        assert state["last_status"] == "error", state
        assert re.match(case.reason, state["last_error"]), state["last_error"]
        assert "\n" not in state["last_error"] and len(state["last_error"]) < 400
        shown = state["last_error"].split(": ", 1)[1][:120]
        assert shown in row, row
    else:
        assert state["last_status"] == "ok", state
        assert state["last_error"] is None
        assert re.search(case.reason, row), row
    assert len(items) == case.stored
    if case.check is not None:
        case.check(items)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_source_beside_a_good_one(case: Case, hostile: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    with scripted_server() as server:
        hostile.sources(
            {"id": "hostile", "url": case.serve(server), "kind": "feed"},
            {"id": "control", "url": server.doc("/control", CONTROL), "kind": "feed"},
        )
        status, seconds, table = run_cycle(capsys)
    assert status == 0, table
    assert seconds < case.bound, f"run took {seconds:.1f}s"
    health = {s["id"]: s for s in json_out(capsys, "sources", "--json")}
    assert health["control"]["last_status"] == "ok" and health["control"]["item_count"] == CONTROL_ITEMS
    assert_case(case, "hostile", table, health, json_out(capsys, "items", "--json", "--source", "hostile"))
    with sqlite3.connect(hostile.database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


@pytest.mark.slow
def test_every_hostile_source_in_one_run(hostile: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """All of them at once, on one host (2 connections at a time): the run is bounded by the
    deadlines, each shows its own reason, and the control source is stored. The 10,000-entry
    feed is left out: while it is parsed, the downloads in flight may miss their deadlines
    (docs/RELIABILITY.md, known limits), so the others' reasons would be that instead of their own."""
    cases = [c for c in CASES if c.stored != MANY]
    ids = [re.sub(r"[^a-z0-9]+", "-", c.name.lower()).strip("-") for c in cases]
    with scripted_server() as server:
        entries = [{"id": sid, "url": c.serve(server), "kind": "feed"} for sid, c in zip(ids, cases, strict=True)]
        control = {"id": "control", "url": server.doc("/control", CONTROL), "kind": "feed"}
        hostile.sources(*entries[: len(entries) // 2], control, *entries[len(entries) // 2 :])
        status, seconds, table = run_cycle(capsys)
    assert status == 0, table
    # At most 2 downloads at a time on the host; each is cut off within its deadline.
    assert seconds < len(cases) * DEADLINE / 2 + 20, f"run took {seconds:.1f}s"
    health = {s["id"]: s for s in json_out(capsys, "sources", "--json")}
    assert health["control"]["last_status"] == "ok" and health["control"]["item_count"] == CONTROL_ITEMS
    for sid, case in zip(ids, cases, strict=True):
        assert_case(case, sid, table, health, json_out(capsys, "items", "--json", "--source", sid))


def test_a_big_feed_does_not_make_other_downloads_miss_their_deadline(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.write("monitor.toml", '[http]\ntimeout = 0.8\ndeadline = 1.0\n\n[poll]\narticle = "never"\n')
    many = many_entries()
    with scripted_server() as server:

        def big(h: Handler, stop: threading.Event) -> None:
            while not server.hits["/slow"] and not stop.wait(0.005):
                pass  # answer once the other request is out, so that the two overlap
            h.respond(many)

        def slow(h: Handler, stop: threading.Event) -> None:
            stop.wait(0.2)  # well within the deadline
            h.respond(CONTROL.encode())

        workspace.sources(
            {"id": "big", "url": server.script("/big", big), "kind": "feed"},
            {"id": "slow", "url": server.script("/slow", slow), "kind": "feed"},
        )
        run_cycle(capsys)
    health = {s["id"]: s for s in json_out(capsys, "sources", "--json")}
    assert health["big"]["item_count"] == MANY
    assert health["slow"]["last_status"] == "ok", health["slow"]["last_error"]
