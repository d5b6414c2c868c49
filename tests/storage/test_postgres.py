"""PostgreSQL on loopback: the migrations reach head with no drift, several processes starting
together on a new database all come up (issue 16), and a failed upgrade is a StorageError.

The server is a throwaway cluster (tests/pgserver.py). Without PostgreSQL's programs these tests
skip, unless MONITOR_REQUIRE_POSTGRES is set (as CI does): then they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from monitor.errors import StorageError
from monitor.storage import open_database
from monitor.storage.db import MIGRATIONS
from monitor.storage.tables import Base
from tests.conftest import Workspace
from tests.pgserver import PgServer

ROUNDS, PROCESSES = 3, 4


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def test_upgrade_to_head_and_no_drift(pg: PgServer) -> None:
    engine = open_database(pg.create_database("drift"))
    try:
        assert {"source", "item", "digest", "alembic_version"} <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
            assert diff == []
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == head_revision()
    finally:
        engine.dispose()


def start_monitor(root: Path, url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env["MONITOR_DATABASE_URL"] = url
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(root / "config"), "status"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_processes_starting_together_on_a_new_database_all_come_up(pg: PgServer, workspace: Workspace) -> None:
    """Issue 16: without a lock around the upgrade, one of two processes died on a
    UniqueViolation in alembic_version in 2 of 3 trials."""
    workspace.sources({"id": "s", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed", "enabled": False})
    failures = []
    for round_ in range(ROUNDS):
        url = pg.create_database(f"race{round_}")
        procs = [start_monitor(workspace.root, url) for _ in range(PROCESSES)]
        results = [p.communicate(timeout=120) for p in procs]
        failures += [
            f"round {round_}: exit {p.returncode}: {err}"
            for p, (_, err) in zip(procs, results, strict=True)
            if p.returncode != 0
        ]
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                versions = connection.scalars(text("SELECT version_num FROM alembic_version")).all()
        finally:
            engine.dispose()
        assert versions == [head_revision()], f"round {round_}"
    assert failures == []


def test_an_upgrade_that_fails_is_a_storage_error(pg: PgServer) -> None:
    url = pg.create_database("unknown_revision")
    open_database(url).dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))  # a newer monitor's schema
    engine.dispose()
    with pytest.raises(StorageError, match="f00dfeed"):
        open_database(url)


def test_a_database_that_does_not_exist_is_a_storage_error(pg: PgServer) -> None:
    with pytest.raises(StorageError, match="cannot open the database"):
        open_database(pg.url("no_such_database"))


@pytest.mark.parametrize("command", [["sources"], ["items", "--json"], ["flags", "--json"], ["stories"], ["status"]])
def test_commands_close_their_connections(pg: PgServer, workspace: Workspace, command: list[str]) -> None:
    """Issue 16: `sources`, `flags`, `stories`, `run --once`, … left their engine undisposed,
    and psycopg warned of each connection dropped while still open."""
    workspace.sources({"id": "s", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed", "enabled": False})
    url = pg.create_database(f"closing_{command[0]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "MONITOR_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-m", "monitor", "--config", str(workspace.config), *command],
        cwd=workspace.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr
