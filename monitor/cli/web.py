"""The web commands: `monitor web` (the HTTP side alone), `monitor web --hash-password`, and
what `monitor serve` runs beside its scheduler."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import sys
from collections.abc import Callable, Iterator

import click

from monitor.cli.base import EXIT_FAILED, EXIT_OK, root, run_command
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.pipeline.metrics import Metrics
from monitor.storage import open_database

log = logging.getLogger("monitor")


@root.command(
    "web",
    short_help="serve the web side alone (review, claims, /readyz, /metrics) against the configured database",
    help="Serves HTTP on [web] listen (default 127.0.0.1:8080). On an address other than loopback it refuses to "
    "start without MONITOR_WEB_TOKEN or MONITOR_WEB_USER + MONITOR_WEB_PASSWORD_HASH.",
)
@click.option("--listen", metavar="HOST:PORT", help="instead of [web] listen")
@click.option(
    "--hash-password",
    is_flag=True,
    help="read a password (from stdin, or a prompt) and print its hash for MONITOR_WEB_PASSWORD_HASH",
)
@click.option(
    "--check",
    is_flag=True,
    help="ask the running web side's /readyz (the container's health check): exit 1 unless ready",
)
@click.pass_context
def web_(ctx: click.Context, listen: str | None, hash_password: bool, check: bool) -> None:
    run_command(ctx, cmd_web, listen=listen, hash_password=hash_password, check=check)


def cmd_web(args: argparse.Namespace, config: Config) -> int:
    from monitor.web import security, server

    if args.check:
        return check_ready(args.listen or config.settings.web.listen)
    if args.hash_password:
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        if not password:
            print("error: an empty password", file=sys.stderr)
            return EXIT_FAILED
        print(security.hash_password(password))
        return EXIT_OK
    engine = open_database(config.database_url)
    try:
        web = server.prepare(config, engine, Metrics(), os.environ, args.listen)
        where = server.address(web)
        print(f"serving http://{where.host}:{where.port}/ (Ctrl-C stops)", file=sys.stderr)
        server.run(web)
    finally:
        engine.dispose()
    return EXIT_OK


def check_ready(listen: str) -> int:
    """GET /readyz of the web side listening on `listen` (a wildcard address asked on loopback):
    its verdict is `monitor status --check`'s, read by the process that serves it."""
    import httpx

    from monitor.web.security import parse_listen

    where = parse_listen(listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(where.host, where.host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{where.port}/readyz"
    try:
        response = httpx.get(url, timeout=20)
        body = response.json() if response.headers.get("content-type") == "application/json" else {}
    except (httpx.HTTPError, ValueError) as e:
        print(f"unhealthy; {url}: {e}")
        return EXIT_FAILED
    verdict = "healthy" if response.status_code == 200 else "unhealthy"
    print("; ".join([verdict, *body.get("reasons", [])]))
    return EXIT_OK if response.status_code == 200 else EXIT_FAILED


def web_beside_serve(config: Config, metrics: Metrics) -> Callable[[], contextlib.AbstractContextManager[object]]:
    """For `monitor serve`: the web side to run once the service holds its lock (nothing when
    `[web] enabled = false`). Credentials are checked now, before the service starts: an
    exposed address without them is a configuration error (exit 2)."""
    if not config.settings.web.enabled:
        return contextlib.nullcontext
    from monitor.web import server

    engine = open_database(config.database_url)
    web = server.prepare(config, engine, metrics, os.environ)

    @contextlib.contextmanager
    def beside() -> Iterator[object]:
        with contextlib.ExitStack() as stack:
            # A taken port must not stop the polls and digests: the service runs on, says so,
            # and its container health check (/readyz) fails, which is where an operator looks.
            try:
                stack.enter_context(server.running_in_thread(web))
            except MonitorError as e:
                log.error("event=web_unavailable error=%r", str(e))
            yield web

    return beside
