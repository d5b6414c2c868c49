"""`monitor worker`: run Procrastinate jobs on a shared PostgreSQL database (monitor.worker).

Procrastinate is imported only here, when the command runs: the SQLite install (no `postgres`
extra) has every other command without it."""

from __future__ import annotations

import argparse
import os
import socket
import sys

import click

from monitor.cli.base import EXIT_CONFIG, root, run_command
from monitor.config import Config
from monitor.storage import open_database


@root.command("worker", help="run poll, article, judge and digest jobs from the queue in PostgreSQL (many may run)")
@click.option("--concurrency", type=int, default=8, show_default=True, help="jobs at once in this process")
@click.option("--name", default=None, help="the worker's name (default: host-pid)")
@click.option("--heartbeat", type=float, default=10.0, show_default=True, help="seconds between heartbeats")
@click.option(
    "--stalled-after",
    type=float,
    default=30.0,
    show_default=True,
    help="seconds without a heartbeat after which a worker's running jobs are retried",
)
@click.option("--keep-jobs", is_flag=True, help="keep finished jobs in the queue's table")
@click.option(
    "--check",
    is_flag=True,
    help="exit 0 when a worker of this host is alive (its heartbeat within --stalled-after), else 1: "
    "for container health checks",
)
@click.pass_context
def worker_(
    ctx: click.Context,
    concurrency: int,
    name: str | None,
    heartbeat: float,
    stalled_after: float,
    keep_jobs: bool,
    check: bool,
) -> None:
    run_command(
        ctx,
        cmd_worker,
        concurrency=concurrency,
        name=name,
        heartbeat=heartbeat,
        stalled_after=stalled_after,
        keep_jobs=keep_jobs,
        check=check,
    )


def cmd_worker(args: argparse.Namespace, config: Config) -> int:
    try:
        from monitor.worker.run import live_workers, run_worker
        from monitor.worker.tasks import WorkerSettings
    except ImportError as e:
        print(f'error: monitor worker needs the postgres extra (pip install -e ".[postgres]"): {e}', file=sys.stderr)
        return EXIT_CONFIG
    from monitor.cli.poll import build_cycle  # the one place a cycle is put together

    if args.concurrency < 1 or args.heartbeat <= 0 or args.stalled_after <= args.heartbeat:
        print("error: --concurrency ≥ 1, --heartbeat > 0 and --stalled-after > --heartbeat", file=sys.stderr)
        return EXIT_CONFIG
    settings = WorkerSettings(
        concurrency=args.concurrency,
        heartbeat=args.heartbeat,
        stalled_after=args.stalled_after,
        delete_jobs="never" if args.keep_jobs else "successful",
    )
    engine = open_database(config.database_url)
    try:
        if args.check:
            alive = live_workers(engine, socket.gethostname(), settings.stalled_after)
            print(f"{alive} live worker(s) on {socket.gethostname()}")
            return 0 if alive else 1
        name = args.name or f"{socket.gethostname()}-{os.getpid()}"
        return run_worker(config, engine, lambda repo, fetcher: build_cycle(config, repo, fetcher), settings, name)
    finally:
        engine.dispose()
