"""Engine set-up: SQLite pragmas (WAL, foreign keys, busy timeout) and Alembic migrations on start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from monitor.errors import StorageError

MIGRATIONS = Path(__file__).with_name("migrations")


def open_database(url: str, *, upgrade: bool = True) -> Engine:
    """An engine on `url` with the schema at the newest revision."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create the database directory: {e}") from e
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if upgrade:
        try:
            upgrade_schema(engine)
        except OperationalError as e:
            raise StorageError(f"cannot open the database {parsed.render_as_string()}: {e.orig}") from e
        except SQLAlchemyError as e:
            raise StorageError(f"database error on {parsed.render_as_string()}: {e}") from e
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_schema(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "head")
