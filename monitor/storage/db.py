"""Engine set-up: SQLite pragmas (WAL, foreign keys, busy timeout) and Alembic migrations on start,
each upgrade one transaction, one process at a time (SQLite's write lock, PostgreSQL's advisory lock)."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from monitor.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

IN_CHUNK = 500  # values per IN (...): well under SQLite's limit on bound parameters
T = TypeVar("T")


def in_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in slices small enough for one IN (...) each."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision (tests/storage check it against the scripts). A database at it
# needs no upgrade, and the start does not even import Alembic (~10 MB, 0.15 s: Mako, Pygments
# and every dialect's DDL), which a `run --once` from cron would otherwise pay every time.
SCHEMA_HEAD = "0013"
# The PostgreSQL advisory lock that start-up upgrades take, one at a time: "monitor" in ASCII, a
# constant so that every version of the monitor takes the same lock.
MIGRATION_LOCK_KEY = 0x6D6F6E69746F72
log = logging.getLogger(__name__)


def open_database(url: str, *, upgrade: bool = True) -> Engine:
    """An engine on `url` with the schema at the newest revision."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create the database directory: {e}") from e
    try:
        engine = create_engine(parsed)
    except (ImportError, SQLAlchemyError) as e:  # an unknown dialect, or its driver is not installed
        raise StorageError(f"cannot use the database {parsed.render_as_string()}: {e}") from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _OPENED.add(engine)
    if upgrade:
        try:
            _upgrade(engine, parsed.render_as_string())
        except BaseException:
            engine.dispose()  # nobody gets the engine: its connections are closed here, not dropped
            raise
    return engine


def _upgrade(engine: Engine, shown: str) -> None:
    """The schema upgraded to the newest revision; any failure a StorageError naming the URL
    (its password hidden)."""
    try:
        upgrade_schema(engine)
    except OperationalError as e:
        raise StorageError(f"cannot open the database {shown}: {e.orig}") from e
    except SQLAlchemyError as e:
        raise StorageError(f"database error on {shown}: {e}") from e
    except UpgradeError as e:  # e.g. a revision unknown here: the schema of a newer monitor
        raise StorageError(f"cannot upgrade the schema of {shown}: {e}") from e


class UpgradeError(Exception):
    """Alembic could not upgrade the schema (its CommandError, whose module is loaded only for
    an upgrade)."""


_OPENED: weakref.WeakSet[Engine] = weakref.WeakSet()


def close_databases() -> None:
    """Close the connections of every engine `open_database` made. A command calls it on its
    way out: PostgreSQL otherwise sees them dropped (and psycopg warns of each)."""
    for engine in list(_OPENED):
        engine.dispose()


def parse_database_url(url: str) -> URL:
    """`url` as SQLAlchemy reads it; StorageError (which never repeats the text: it may hold a
    password) when it is no URL at all."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StorageError(
            "the database URL is not a SQLAlchemy URL (e.g. sqlite:///storage/monitor.db or "
            "postgresql+psycopg://user@host/db)"
        ) from e
    except ValueError as e:  # a port that is not a number
        raise StorageError("the database URL's port is not a number") from e
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise StorageError(f"the database URL's port {parsed.port} is out of range (1–65535)")
    return parsed


def check_database_url(url: str) -> str | None:
    """Why `url` cannot be used (no URL, an unknown dialect, a driver not installed), or None.
    Opens nothing."""
    try:
        parsed = parse_database_url(url)
    except StorageError as e:
        return str(e)
    try:
        dialect = parsed.get_dialect()
    except SQLAlchemyError:
        return f"unknown database kind {parsed.drivername!r}"
    try:
        dialect.import_dbapi()
    except ImportError as e:
        return f"the driver for {parsed.drivername} is not installed ({e})"
    return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_schema(engine: Engine) -> None:
    """Upgrade to the newest revision, all of it in one transaction that holds the write lock;
    nothing at all (Alembic not loaded) when the schema is at SCHEMA_HEAD already.

    pysqlite runs DDL outside any transaction, so on its own connections an upgrade is many
    small commits: a process killed during the first one left tables without a schema version
    (every later start failed with "table digest already exists"), and two processes starting
    on a new database both created tables. On a connection of its own that begins with BEGIN
    IMMEDIATE, an upgrade is whole or absent, and a second process waits for the first, then
    finds nothing left to do."""
    if schema_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.util import CommandError

    try:
        if engine.dialect.name == "postgresql":
            with _migration_lock(engine):
                command.upgrade(alembic_config(engine), "head")
            return
        if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
            command.upgrade(alembic_config(engine), "head")
            return
        migrator = create_engine(engine.url, poolclass=NullPool)
        event.listen(migrator, "connect", _sqlite_pragmas)
        event.listen(migrator, "connect", _no_implicit_transactions)
        event.listen(migrator, "begin", _begin_immediate)
        try:
            command.upgrade(alembic_config(migrator), "head")
        finally:
            migrator.dispose()
    except CommandError as e:
        raise UpgradeError(str(e)) from e


def schema_revision(engine: Engine) -> str | None:
    """The schema's revision as Alembic recorded it; None for a new database, or one that
    cannot be read here (the upgrade then says why)."""
    try:
        with engine.connect() as connection:
            revisions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        return None
    return revisions[0] if len(revisions) == 1 else None


def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # pysqlite leaves BEGIN and COMMIT to us


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """PostgreSQL's advisory lock MIGRATION_LOCK_KEY, held while the upgrade runs.

    PostgreSQL's DDL is transactional, yet two upgrades of a new database both find no
    alembic_version table, both create the schema, and the second to commit dies on a
    UniqueViolation (issue 16: in 2 of 3 starts of two processes). The lock makes the others
    wait for the first; each then upgrades in a transaction that begins after the first one
    committed, and finds nothing left to do. The lock is held on a connection of its own, outside
    any transaction (the upgrade runs on another); it ends with that connection's session, so an
    upgrade that fails, or a process that dies, frees it too."""
    holder = create_engine(engine.url, poolclass=NullPool)
    try:
        with holder.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if not connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}):
                log.info("waiting for another process to finish upgrading the database schema")
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            yield
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    finally:
        holder.dispose()
