"""Run the web side under uvicorn: alone (`monitor web`, in the main thread, uvicorn's own
signal handling) or beside the scheduler (`monitor serve`, in a thread of its own).

Why a thread beside `monitor serve` and not a task on its event loop: the service's loop is
its scheduler's (poll cycles, signals, deadlines and a forced cancel of every task at stop);
the web side's requests should neither wait behind a cycle's CPU work on that loop nor be
cancelled with it. In a thread uvicorn leaves signals alone; the service stops it at exit.

Before anything listens, `prepare` refuses an exposed address without credentials.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

import uvicorn
from sqlalchemy import Engine

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.pipeline.metrics import Metrics
from monitor.web.app import build_app
from monitor.web.data import WebData
from monitor.web.security import Credentials, Listen, check_exposure, parse_listen

log = logging.getLogger(__name__)
START_TIMEOUT = 15.0


def prepare(
    config: Config, engine: Engine, metrics: Metrics, env: Mapping[str, str], listen: str | None = None
) -> uvicorn.Server:
    """The server, ready to run; ConfigError when the address is exposed without credentials
    (or the credentials are malformed). Nothing listens yet."""
    where = parse_listen(listen or config.settings.web.listen)
    credentials = Credentials.from_env(env)
    check_exposure(where, credentials)
    app = build_app(WebData(config, engine, _utcnow), credentials, metrics)
    settings = uvicorn.Config(
        app,
        host=where.host,
        port=where.port,
        log_level="warning",
        log_config=None,  # uvicorn's lines go through the monitor's own logging (text or JSON)
        access_log=False,
        lifespan="off",
        server_header=False,
        proxy_headers=False,
    )
    log.info("event=web_listen host=%s port=%d auth=%s", where.host, where.port, credentials.configured)
    return uvicorn.Server(settings)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def address(server: uvicorn.Server) -> Listen:
    return Listen(server.config.host, server.config.port)


def run(server: uvicorn.Server) -> None:
    """Serve until SIGINT/SIGTERM (`monitor web`)."""
    server.run()
    if not server.started:
        where = address(server)
        raise MonitorError(f"cannot listen on {where.host}:{where.port} (see the error above)")


def _run_in_thread(server: uvicorn.Server) -> None:
    """uvicorn exits (SystemExit) when it cannot bind: in a thread that only ends the thread,
    which `running_in_thread` sees as a server that never started."""
    try:
        server.run()
    except SystemExit as e:
        log.error("event=web_stopped code=%s", e.code)


@contextmanager
def running_in_thread(server: uvicorn.Server) -> Iterator[uvicorn.Server]:
    """Serve in a daemon thread for the block (`monitor serve`); MonitorError if it cannot
    listen; stopped (in-flight requests finished) when the block ends."""
    thread = threading.Thread(target=_run_in_thread, args=(server,), name="web", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        where = address(server)
        raise MonitorError(f"the web side cannot listen on {where.host}:{where.port}")
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(10)
