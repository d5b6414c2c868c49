"""Start a worker: check the database is PostgreSQL, put Procrastinate's tables in place and
the sources in the database (one process at a time), then run jobs until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from procrastinate import App, PsycopgConnector
from procrastinate.schema import SchemaManager
from sqlalchemy import Engine, text

from monitor.collect.fetch import HttpxFetcher
from monitor.config import Config
from monitor.errors import StorageError
from monitor.pipeline.cycle import PARSE_POOL_MIN_SOURCES, Cycle, parse_pool, utcnow
from monitor.records import Fetcher
from monitor.storage import SqlRepository
from monitor.worker import plan
from monitor.worker.tasks import Runtime, WorkerSettings, register_tasks

log = logging.getLogger(__name__)
CycleFactory = Callable[[SqlRepository, Fetcher], Cycle]
# The advisory lock a starting worker holds while it creates the queue's tables and syncs the
# sources: "mworker" in ASCII (the migrations hold "monitor").
SETUP_LOCK_KEY = 0x6D776F726B6572


def build_app(engine: Engine, settings: WorkerSettings) -> App:
    """A Procrastinate app on the monitor's database, its tables in the schema `procrastinate`.
    The pool has a connection per concurrent job and two for the worker's own queries."""
    connector = PsycopgConnector(
        conninfo=plan.queue_conninfo(engine.url),
        kwargs={"options": f"-c search_path={plan.QUEUE_SCHEMA}"},
        min_size=1,
        max_size=settings.concurrency + 2,
    )
    return App(connector=connector)


def prepare_database(engine: Engine, config: Config) -> None:
    """Procrastinate's tables (once) and the configured sources, under an advisory lock: workers
    starting together on a new database would otherwise both create the tables, and the second
    die on a duplicate (as the migrations did, issue 16)."""
    repo = SqlRepository(engine)
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETUP_LOCK_KEY})
        present = connection.scalar(
            text("SELECT to_regclass(:name)"), {"name": f"{plan.QUEUE_SCHEMA}.procrastinate_jobs"}
        )
        if present is None:
            log.info("event=queue_schema action=create schema=%s", plan.QUEUE_SCHEMA)
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {plan.QUEUE_SCHEMA}")
            connection.exec_driver_sql(f"SET LOCAL search_path TO {plan.QUEUE_SCHEMA}")
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(SchemaManager.get_schema())  # no parameters: several statements in one go
            connection.exec_driver_sql("SET LOCAL search_path TO public")
        repo.sync_sources(config.sources)  # on another connection, while this one holds the lock


def run_worker(config: Config, engine: Engine, make_cycle: CycleFactory, settings: WorkerSettings, name: str) -> int:
    """Run jobs until stopped: SIGTERM/SIGINT let the running jobs end within `[service]
    stop_timeout`, then abort them. An aborted poll has not set its source's next poll, so the
    next tick queues it again; pending articles are queued by the source's next poll."""
    if engine.dialect.name != "postgresql":
        raise StorageError(
            "monitor worker needs PostgreSQL (MONITOR_DATABASE_URL=postgresql+psycopg://…); "
            "on SQLite, run monitor serve"
        )
    prepare_database(engine, config)
    asyncio.run(_work(config, engine, make_cycle, settings, name))
    return 0


async def _work(config: Config, engine: Engine, make_cycle: CycleFactory, settings: WorkerSettings, name: str) -> None:
    app = build_app(engine, settings)
    async with HttpxFetcher(config.settings.http) as fetcher:
        base = make_cycle(SqlRepository(engine), fetcher)
        pool = parse_pool(base, PARSE_POOL_MIN_SOURCES if settings.parse_processes else 0)
        with base.verifier or contextlib.nullcontext(), pool as cycle:  # the verifier's client closed at the end
            await _serve(app, config, cycle, settings, name)
    log.info("event=worker_stopped name=%s", name)


async def _serve(app: App, config: Config, cycle: Cycle, settings: WorkerSettings, name: str) -> None:
    """Register the jobs and run them until stopped. Feeds are parsed in the cycle's processes
    (one per core, as `run --once` does) when it has them: in a thread of this process the
    parsing, the event loop and a judge batch would share one interpreter lock."""
    register_tasks(app, Runtime(config, cycle, settings, utcnow, utcnow()))
    log.info("event=worker_start name=%s concurrency=%d tasks=%d", name, settings.concurrency, len(app.tasks))
    alive = alive_path(name)
    toucher = asyncio.create_task(_touch_alive(alive, settings.heartbeat))
    try:
        async with app.open_async():
            await app.run_worker_async(
                name=name,
                concurrency=settings.concurrency,
                update_heartbeat_interval=settings.heartbeat,
                stalled_worker_timeout=settings.stalled_after,
                shutdown_graceful_timeout=config.settings.service.stop_timeout,
                delete_jobs=settings.delete_jobs,
            )
    finally:
        toucher.cancel()
        alive.unlink(missing_ok=True)


def alive_path(name: str) -> Path:
    """The file a worker touches at each heartbeat: what `monitor worker --check` reads, from
    another process of the same machine (container)."""
    return Path(tempfile.gettempdir()) / f"monitor-worker-{name}.alive"


async def _touch_alive(path: Path, every: float) -> None:
    """Touch `path` every `every` seconds while the event loop runs: a frozen loop stops it."""
    while True:
        path.touch()
        await asyncio.sleep(every)


def live_workers(engine: Engine, host: str, stalled_after: float) -> int:
    """Workers of `host` whose file was touched within `stalled_after` seconds, when the queue
    also has a fresh heartbeat (the database is reachable and workers write to it); else 0."""
    with engine.connect() as connection:
        if (
            connection.scalar(text("SELECT to_regclass(:t)"), {"t": f"{plan.QUEUE_SCHEMA}.procrastinate_workers"})
            is None
        ):
            return 0
        fresh = connection.scalar(
            text(
                f"SELECT count(*) FROM {plan.QUEUE_SCHEMA}.procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => :secs)"
            ),
            {"secs": stalled_after},
        )
    if not fresh:
        return 0
    now = time.time()
    files = Path(tempfile.gettempdir()).glob(f"monitor-worker-{host}-*.alive")
    return sum(now - f.stat().st_mtime < stalled_after for f in files)
