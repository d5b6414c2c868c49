"""The service as a subprocess, for the tests that run `monitor serve`: a loopback site whose
routes change while it runs (`Site`), the running service (`Serve`), and reading its database."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from monitor.cli import main
from tests.conftest import Workspace

T0 = datetime(2025, 7, 15, 12, 0, tzinfo=UTC)


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stall: bool = False  # send half the body, then hang until the server closes
    content_type: str = "application/rss+xml"


class Site:
    """A loopback HTTP server whose routes a test changes while the service runs; notes each hit."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, list[float]] = {}
        self.closing = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits.setdefault(self.path, []).append(time.monotonic())
                route = site.routes.get(self.path, Route(404, b"not found"))
                if route.delay:
                    site.closing.wait(route.delay)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if route.stall:
                    self.wfile.write(route.body[: len(route.body) // 2])
                    self.wfile.flush()
                    site.closing.wait(60)
                    return
                self.wfile.write(route.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def feed(self, path: str, items: int, **route: Any) -> str:
        self.routes[path] = Route(body=rss(path.strip("/"), items), **route)
        return self.url(path)

    def gaps(self, path: str) -> list[float]:
        times = self.hits.get(path, [])
        return [b - a for a, b in itertools.pairwise(times)]

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def words(seed: str, count: int) -> str:
    """Made-up words, different for every seed: distinct items (items reading alike are one
    story's near-copies to the monitor, and get no article of their own)."""
    rng = random.Random(seed)
    return " ".join(
        "".join(rng.choice("bcdfghjklmnprstvwz") + rng.choice("aeiou") for _ in range(3)) for _ in range(count)
    )


def rss(name: str, items: int) -> bytes:
    entries = "".join(
        f"<item><title>{name} story {n}: export controls on chips, {words(f'{name}{n}', 4)}</title>"
        f"<link>https://example.org/{name}/{n}</link>"
        f"<guid>{name}-{n}</guid><description>{words(f'{name}{n} summary', 10)}.</description>"
        f"<pubDate>Tue, 15 Jul 2025 08:{n % 60:02d}:00 GMT</pubDate></item>"
        for n in range(items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{entries}</channel></rss>'.encode()


SETTINGS = """
[poll]
interval = 1
jitter = 0
backoff_max = 4
article = "never"

[schedule]
poll_tick = 0.2
digest_cron = "{digest_cron}"
misfire_grace_time = 30

[service]
stop_timeout = {stop_timeout}
lock_ttl = 30
"""


class Serve:
    """`monitor serve` in a subprocess, in the workspace; its log in a file."""

    def __init__(self, workspace: Workspace, name: str = "serve") -> None:
        self.workspace = workspace
        self.log = workspace.root / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Serve:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        if not self.workspace.database_url.startswith("sqlite"):  # the PostgreSQL pass: the workspace's database
            env["MONITOR_DATABASE_URL"] = self.workspace.database_url
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "--log-level", "info", "serve"],
                cwd=self.workspace.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not stop within {timeout}s:\n{self.output()}") from None

    def exit_code(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"serve still running after {timeout}s:\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 40) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if check():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"serve exited ({self.proc.returncode}) before {what}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()}")


def configure(workspace: Workspace, *, digest_cron: str = "0 7 * * *", stop_timeout: float = 5) -> None:
    workspace.write("monitor.toml", SETTINGS.format(digest_cron=digest_cron, stop_timeout=stop_timeout))


def query(workspace: Workspace, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    if workspace.database_url.startswith("postgresql"):  # the PostgreSQL pass (tests/conftest.py)
        return _query_postgres(workspace.database_url, sql, params)
    if not workspace.database.exists():
        return []
    conn = sqlite3.connect(workspace.database, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        conn.close()


def _query_postgres(url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        try:
            return [tuple(row) for row in conn.execute(sql.replace("?", "%s"), params).fetchall()]
        except psycopg.errors.UndefinedTable:  # the schema is not there yet
            return []


def count(workspace: Workspace, sql: str, *params: Any) -> int:
    rows = query(workspace, sql, *params)
    return int(rows[0][0]) if rows else 0


def status(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["status", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def assert_consistent(workspace: Workspace) -> None:
    if not workspace.database_url.startswith("postgresql"):  # SQLite's own checks of its file
        assert query(workspace, "PRAGMA integrity_check") == [("ok",)]
        assert query(workspace, "PRAGMA foreign_key_check") == []
    assert query(workspace, "SELECT name FROM lock") == []  # released on the way out
    assert count(workspace, "SELECT count(*) FROM cycle WHERE finished_at IS NULL") == 0
