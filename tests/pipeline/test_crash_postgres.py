"""kill -9 of `monitor run --once` on PostgreSQL (issue 23: the crash tests on both databases).

The SQLite crash tests (test_crash.py) read the file itself; these are the same kills on a
throwaway PostgreSQL database, checked with the same invariants in SQL: no row stored twice,
one original per story, copies pointing at originals, every item present after a rerun, and no
cycle left `running`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from monitor.storage import open_database
from tests.conftest import Workspace
from tests.loopback import scripted_server
from tests.pgserver import PgServer
from tests.pipeline.test_crash import ITEMS, MONITOR_TOML, feed, held, kill_when

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_crash(workspace: Workspace, pg: PgServer, request: pytest.FixtureRequest) -> Iterator[Engine]:
    workspace.write("monitor.toml", MONITOR_TOML)
    url = pg.create_database(f"crash_{request.node.name[:40].lower()}")
    open_database(url).dispose()
    workspace.database_url = url
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def monitor(root: Path, url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "MONITOR_DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(root / "config"), "run", "--once"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def rerun(root: Path, url: str) -> None:
    proc = monitor(root, url)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql)).all()]


def per_source(engine: Engine) -> dict[str, int]:
    return {str(s): int(str(n)) for s, n in rows(engine, "SELECT source_id, count(*) FROM item GROUP BY 1")}


def check_database(engine: Engine) -> None:
    """test_crash's invariants, in SQL on PostgreSQL (its own constraints hold the rest)."""
    twice = rows(engine, "SELECT source_id, guid FROM item GROUP BY source_id, guid HAVING count(*) > 1")
    assert twice == []
    originals = rows(
        engine,
        "SELECT canonical_url FROM item WHERE duplicate_of IS NULL AND canonical_url IS NOT NULL "
        "GROUP BY canonical_url HAVING count(*) > 1",
    )
    assert originals == []
    chained = rows(
        engine, "SELECT count(*) FROM item c JOIN item o ON c.duplicate_of = o.id WHERE o.duplicate_of IS NOT NULL"
    )
    assert chained == [(0,)]
    assert rows(engine, "SELECT count(*) FROM cycle WHERE status = 'running'") == [(0,)]


def test_killed_while_every_download_is_pending(workspace: Workspace, pg_crash: Engine) -> None:
    release = threading.Event()
    url = workspace.database_url
    with scripted_server() as server:
        workspace.sources(
            *({"id": s, "url": server.script(f"/{s}.xml", held(feed(s), release)), "kind": "feed"} for s in "abc")
        )
        kill_when(monitor(workspace.root, url), lambda: all(server.hits[f"/{s}.xml"] for s in "abc"))
        assert per_source(pg_crash) == {}
        release.set()
        rerun(workspace.root, url)
    assert per_source(pg_crash) == {"a": ITEMS, "b": ITEMS, "c": ITEMS}
    check_database(pg_crash)


def test_killed_between_two_sources_batches(workspace: Workspace, pg_crash: Engine) -> None:
    """Two sources stored, one still downloading: the rerun stores the third and nothing twice."""
    release = threading.Event()
    url = workspace.database_url
    with scripted_server() as server:
        workspace.sources(
            {"id": "a", "url": server.doc("/a.xml", feed("a")), "kind": "feed"},
            {"id": "b", "url": server.doc("/b.xml", feed("b")), "kind": "feed"},
            {"id": "c", "url": server.script("/c.xml", held(feed("c"), release)), "kind": "feed"},
        )
        stored = "SELECT count(*) FROM source WHERE id IN ('a', 'b') AND last_status = 'ok'"
        kill_when(monitor(workspace.root, url), lambda: rows(pg_crash, stored) == [(2,)])
        assert per_source(pg_crash) == {"a": ITEMS, "b": ITEMS}
        release.set()
        rerun(workspace.root, url)
    assert per_source(pg_crash) == {"a": ITEMS, "b": ITEMS, "c": ITEMS}
    check_database(pg_crash)
