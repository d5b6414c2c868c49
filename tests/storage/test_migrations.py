"""Migrations: an empty database upgrades to head, and the models match the migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from monitor.errors import StorageError
from monitor.storage import open_database
from monitor.storage.db import MIGRATIONS, SCHEMA_HEAD, alembic_config
from monitor.storage.search import is_search_table
from monitor.storage.tables import Base


def test_upgrade_to_head_and_no_drift(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    assert {"source", "item", "digest", "alembic_version"} <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        # the FTS5 item search (migration 0012) is kept outside the ORM's metadata, as env.py says
        opts = {
            "compare_type": True,
            "include_name": lambda name, kind, _p: not (kind == "table" and is_search_table(name)),
        }
        diff = compare_metadata(MigrationContext.configure(connection, opts=opts), Base.metadata)
    assert diff == []
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_reopening_is_safe(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_database(url).dispose()
    open_database(url).dispose()


def test_schema_head_is_the_newest_migration() -> None:
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == SCHEMA_HEAD


def test_a_current_schema_opens_without_alembic(tmp_path: Path) -> None:
    """A start on a database at head (every `run --once` from cron but the first) does not load
    Alembic; one on an older schema does, and upgrades it."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    probe = (
        "import sys; from monitor.storage import open_database; "
        f"open_database({url!r}).dispose(); print('alembic' in sys.modules)"
    )
    run = [sys.executable, "-c", probe]
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip() == "True"  # created
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip() == "False"  # at head
    engine = create_engine(url)
    command.downgrade(alembic_config(engine), "0011")  # the schema before the item search
    engine.dispose()
    assert subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip() == "True"  # upgraded
    engine = open_database(url)
    assert "item_search" in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == SCHEMA_HEAD


def test_an_unknown_revision_is_a_storage_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_database(url).dispose()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))  # a newer monitor's schema
    engine.dispose()
    with pytest.raises(StorageError, match=r"cannot upgrade the schema .*f00dfeed"):
        open_database(url)
