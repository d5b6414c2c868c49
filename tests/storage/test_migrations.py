"""Migrations: an empty database upgrades to head, and the models match the migrations."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from monitor.storage import open_database
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
