"""`monitor worker`: run Procrastinate jobs on a shared PostgreSQL database (monitor.worker).

Procrastinate is imported only here, when the command runs: the SQLite install (no `postgres`
extra) has every other command without it."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

from monitor.config import Config
from monitor.storage import open_database

EXIT_CONFIG = 2


def register(commands: Any) -> None:
    worker = commands.add_parser(
        "worker", help="run poll, article, judge and digest jobs from the queue in PostgreSQL (many may run)"
    )
    worker.add_argument("--concurrency", type=int, default=8, help="jobs at once in this process (default 8)")
    worker.add_argument("--name", default=None, help="the worker's name in the queue (default: host-pid)")
    worker.add_argument("--heartbeat", type=float, default=10.0, help="seconds between heartbeats (default 10)")
    worker.add_argument(
        "--stalled-after",
        type=float,
        default=30.0,
        help="seconds without a heartbeat after which a worker's running jobs are retried (default 30)",
    )
    worker.add_argument("--keep-jobs", action="store_true", help="keep finished jobs in the queue's table")
    worker.add_argument(
        "--check",
        action="store_true",
        help="exit 0 when a worker of this host is alive (its heartbeat within --stalled-after), else 1: "
        "for container health checks",
    )
    worker.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace, config: Config) -> int:
    try:
        from monitor.worker.run import run_worker
        from monitor.worker.tasks import WorkerSettings
    except ImportError as e:
        print(f'error: monitor worker needs the postgres extra (pip install -e ".[postgres]"): {e}', file=sys.stderr)
        return EXIT_CONFIG
    from monitor.cli import build_cycle  # the one place a cycle is put together

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
            from monitor.worker.run import live_workers

            alive = live_workers(engine, socket.gethostname(), settings.stalled_after)
            print(f"{alive} live worker(s) on {socket.gethostname()}")
            return 0 if alive else 1
        name = args.name or f"{socket.gethostname()}-{os.getpid()}"
        return run_worker(config, engine, lambda repo, fetcher: build_cycle(config, repo, fetcher), settings, name)
    finally:
        engine.dispose()
