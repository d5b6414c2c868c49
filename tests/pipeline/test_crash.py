"""kill -9 of `monitor run --once` at several points of a run, then a rerun: no duplicate rows,
no lost items, an intact database. No hooks in the monitor: the loopback server holds a
response back (so the process is where the test wants it), the test watches the database and
the server, and kills the process there.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.storage import open_database
from tests.conftest import Workspace
from tests.invariants import check_database, query
from tests.loopback import Handler, Script, item, rss, scripted_server

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # reads the SQLite file itself

MONITOR_TOML = '[http]\ntimeout = 30\ndeadline = 60\nper_host = 8\n\n[poll]\narticle = "never"\n'
ITEMS = 20
BIG = 1_200  # entries of the feed whose write is cut: 5 MB of text, more than SQLite's 2 MB page cache


def monitor(root: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(root / "config"), "run", "--once"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], *, after: float = 0.0, timeout: float = 60
) -> None:
    """SIGKILL `proc` `after` seconds after `ready()` first holds; fail if it ends before
    `ready()` or if that never comes."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            _out, err = proc.communicate()
            pytest.fail(f"the run ended (exit {proc.returncode}) before the kill point:\n{err.decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail("the kill point was never reached")
        time.sleep(0.002)
    if after:
        time.sleep(after)
    proc.kill()
    proc.communicate()


def rerun(root: Path) -> str:
    proc = monitor(root)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def held(body: bytes, release: threading.Event) -> Script:
    """Answer only once `release` is set: until then the run waits on this download."""

    def respond(h: Handler, stop: threading.Event) -> None:
        while not release.wait(0.05):
            if stop.is_set():
                return
        h.respond(body)

    return respond


def feed(name: str, n: int = ITEMS, *, padding: int = 0) -> bytes:
    """`n` items; `padding` characters of text added to each summary."""
    items = (item(f"{name}-{k}", host=f"{name}.example") for k in range(n))
    pad = f" {name} " + "lorem ipsum dolor " * (padding // 18)
    return rss(*(i.replace(".</description>", pad + "</description>") for i in items), title=name).encode()


def per_source(database: Path) -> dict[str, int]:
    return {str(sid): int(str(n)) for sid, n in query(database, "SELECT source_id, count(*) FROM item GROUP BY 1")}


def status_of(database: Path, source: str) -> object:
    try:
        rows = query(database, "SELECT last_status FROM source WHERE id = ?", source)
    except sqlite3.OperationalError:  # no database or no schema yet
        return None
    return rows[0][0] if rows else None


@pytest.fixture
def crash(workspace: Workspace) -> Workspace:
    workspace.write("monitor.toml", MONITOR_TOML)
    return workspace


def test_killed_while_creating_the_schema(crash: Workspace) -> None:
    """Killed at moments from the creation of the database file to the end of the first schema
    upgrade: what each kill leaves is either no schema or the whole of it, and opens."""
    with scripted_server() as server:
        crash.sources({"id": "a", "url": server.doc("/a.xml", feed("a")), "kind": "feed"})
        for delay in (0.0, 0.05, 0.1, 0.2):
            for leftover in crash.database.parent.glob("monitor.db*"):
                leftover.unlink()
            kill_when(monitor(crash.root), crash.database.exists, after=delay)
            open_database(f"sqlite:///{crash.database}").dispose()  # what the next run does first
        rerun(crash.root)
    assert check_database(crash.database)["items"] == ITEMS


def test_killed_while_every_download_is_pending(crash: Workspace) -> None:
    release = threading.Event()
    with scripted_server() as server:
        crash.sources(
            *({"id": s, "url": server.script(f"/{s}.xml", held(feed(s), release)), "kind": "feed"} for s in "abc")
        )
        kill_when(monitor(crash.root), lambda: all(server.hits[f"/{s}.xml"] for s in "abc"))
        assert per_source(crash.database) == {}
        release.set()
        rerun(crash.root)
    assert per_source(crash.database) == {"a": ITEMS, "b": ITEMS, "c": ITEMS}
    check_database(crash.database)


def test_killed_between_two_sources_batches(crash: Workspace) -> None:
    """Two sources stored, one still downloading: the rerun stores the third and nothing twice."""
    release = threading.Event()
    with scripted_server() as server:
        crash.sources(
            {"id": "a", "url": server.doc("/a.xml", feed("a")), "kind": "feed"},
            {"id": "b", "url": server.doc("/b.xml", feed("b")), "kind": "feed"},
            {"id": "c", "url": server.script("/c.xml", held(feed("c"), release)), "kind": "feed"},
        )
        kill_when(
            monitor(crash.root),
            lambda: status_of(crash.database, "a") == "ok" and status_of(crash.database, "b") == "ok",
        )
        assert per_source(crash.database) == {"a": ITEMS, "b": ITEMS}
        release.set()
        out = rerun(crash.root)
    assert per_source(crash.database) == {"a": ITEMS, "b": ITEMS, "c": ITEMS}
    assert check_database(crash.database)["items"] == 3 * ITEMS
    assert "unchanged" in out or "not_modified" in out


def test_killed_while_fetching_articles(crash: Workspace) -> None:
    """Items stored, their articles not yet: the rerun fetches each article once and stores it."""
    release = threading.Event()
    article = b"<html><body><article><h1>Story</h1>" + b"<p>Body text of the story, long enough.</p>" * 20
    with scripted_server() as server:
        links = [server.script(f"/art/{k}", held(article + b"</article></body></html>", release)) for k in range(5)]
        entries = [f"<title>Story {k}</title><link>{url}</link><guid>art-{k}</guid>" for k, url in enumerate(links)]
        crash.sources({"id": "a", "url": server.doc("/a.xml", rss(*entries)), "kind": "feed", "article": "all"})
        kill_when(monitor(crash.root), lambda: any(server.hits[f"/art/{k}"] for k in range(5)))
        assert query(crash.database, "SELECT count(*), count(article_status) FROM item") == [(5, 0)]
        release.set()
        rerun(crash.root)
    rows = query(crash.database, "SELECT article_status, length(text) > 100 FROM item")
    assert rows == [("ok", 1)] * 5
    check_database(crash.database)


def test_killed_inside_a_large_write(crash: Workspace) -> None:
    """Killed while the batch of a large feed is being written (its pages already
    spilling into the WAL, not yet committed): none of it is kept, and the rerun stores it whole."""
    with scripted_server() as server:
        crash.sources(
            {"id": "small", "url": server.doc("/small.xml", feed("small")), "kind": "feed"},
            {"id": "big", "url": server.doc("/big.xml", feed("big", BIG, padding=4000)), "kind": "feed"},
        )
        wal = crash.database.with_name(crash.database.name + "-wal")
        proc = monitor(crash.root)
        kill_when(proc, lambda: server.hits["/big.xml"] > 0 and _spilled(wal, crash.database, "big"))
        assert per_source(crash.database).get("big", 0) == 0
        check_database(crash.database)
        rerun(crash.root)
    assert per_source(crash.database) == {"small": ITEMS, "big": BIG}
    check_database(crash.database)


def _spilled(wal: Path, database: Path, source: str) -> bool:
    """The source's write has begun (its WAL is growing past what the small batch left) and
    has not committed."""
    try:
        size = wal.stat().st_size
    except FileNotFoundError:
        return False
    return size > 1_000_000 and status_of(database, source) is None


def test_repeated_kills_then_a_clean_run(crash: Workspace) -> None:
    """Killed at a spread of moments after its first request, four times in a row on one
    database: whatever each kill left, the fifth run ends with every item once."""
    with scripted_server() as server:
        crash.sources(*({"id": s, "url": server.doc(f"/{s}.xml", feed(s, 500)), "kind": "feed"} for s in "abcd"))
        for delay in (0.0, 0.1, 0.3, 0.6):
            requests = sum(server.hits.values())
            kill_when(monitor(crash.root), lambda n=requests: sum(server.hits.values()) > n, after=delay)  # type: ignore[misc]
            check_database(crash.database)
        rerun(crash.root)
    assert per_source(crash.database) == {s: 500 for s in "abcd"}
    check_database(crash.database)
