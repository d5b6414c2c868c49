"""Items per second: one `monitor run --once` on SQLite beside 1, 2 and 4 `monitor worker`
processes on one PostgreSQL (issue 23, docs/SCALE.md):

    python -m bench.scale [--feeds 500] [--items 50] [--workers 1 2 4] [--concurrency 8]

The generated feeds of `bench.feeds` on the bench's loopback server (50 hosts), the same
config as `bench.ingest` (no article fetching, the judge with stand-in vectors), a throwaway
PostgreSQL cluster (`tests/pgserver.py`: initdb on 127.0.0.1, fsync off, as the `postgres`
user when run as root). Each run starts on a new empty database.

Two figures per run: *items/s*, the items stored over the time from the first feed download to
the last item clustered or judged (both read from the database: the same window for the
single process and the workers, start-up excluded); and *wall*, from the processes' start until
the work is done (start-up included: the workers' imports, the queue's tables).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text

from bench.feeds import generate
from bench.ingest import write_config
from bench.server import serving
from monitor.storage import open_database
from monitor.storage.tables import ItemRow, SourceRow
from tests.pgserver import PgServer, find_bin_dir, free_port

ROOT = Path(__file__).resolve().parents[1]
IDLE_SQL = (
    "SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE status IN ('todo', 'doing') "
    "AND task_name NOT IN ('monitor.tick', 'monitor.retry_stalled')"
)


def env_for(url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(ROOT)
    if url:
        env["MONITOR_DATABASE_URL"] = url
    return env


def figures(engine: Engine, sources: int) -> dict[str, Any]:
    """Items stored, and the window from the first download to the last item clustered or judged."""
    with engine.connect() as connection:
        items = connection.scalar(select(func.count()).select_from(ItemRow)) or 0
        first = connection.scalar(select(func.min(ItemRow.fetched_at)))
        clustered = connection.scalar(select(func.max(ItemRow.clustered_at)))
        matched = connection.scalar(select(func.max(ItemRow.matched_at)))
        polled = connection.scalar(
            select(func.count()).select_from(SourceRow).where(SourceRow.next_poll_at.is_not(None))
        )
    last = max(t for t in (clustered, matched, first) if t is not None)
    seconds = (_aware(last) - _aware(first)).total_seconds() if first else 0.0
    return {
        "items": items,
        "sources_polled": polled,
        "sources": sources,
        "seconds": round(seconds, 2),
        "items_per_s": round(items / seconds, 1) if seconds else 0.0,
    }


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=datetime.now().astimezone().tzinfo)


def run_sqlite(workdir: Path, feeds: list[Any]) -> dict[str, Any]:
    """One `monitor run --once` (its parse pool, one process per core) on a new SQLite file."""
    config = write_config(workdir, feeds)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
        cwd=workdir,
        env=env_for(None),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - began
    if done.returncode != 0:
        raise RuntimeError(f"run --once failed ({done.returncode}): {done.stderr[-2000:]}")
    engine = create_engine(f"sqlite:///{workdir / 'storage' / 'monitor.db'}")
    try:
        return {"kind": "sqlite, one process (run --once)", "wall": round(wall, 1), **figures(engine, len(feeds))}
    finally:
        engine.dispose()


def run_workers(workdir: Path, feeds: list[Any], pg: PgServer, count: int, concurrency: int) -> dict[str, Any]:
    """`count` worker processes on a new PostgreSQL database until every source is polled and
    no poll, judge or digest job is left; then SIGTERM."""
    config = write_config(workdir, feeds)
    url = pg.create_database(f"bench_w{count}")
    open_database(url).dispose()
    engine = create_engine(url)
    began = time.monotonic()
    logs = [(workdir / f"worker{n}.log").open("wb") for n in range(count)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "--config",
                str(config),
                "worker",
                "--concurrency",
                str(concurrency),
                "--name",
                f"bench{n}",
            ],
            cwd=workdir,
            env=env_for(url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for n, log in enumerate(logs)
    ]
    try:
        while True:
            time.sleep(0.25)
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker exited: see {workdir}/worker*.log")
            with engine.connect() as connection:
                polled = connection.scalar(
                    select(func.count()).select_from(SourceRow).where(SourceRow.next_poll_at.is_not(None))
                )
                if polled < len(feeds):
                    continue
                if connection.scalar(text(IDLE_SQL)) == 0:
                    break
        wall = time.monotonic() - began
        return {
            "kind": f"postgresql, {count} worker process{'es' if count > 1 else ''}",
            "wall": round(wall, 1),
            **figures(engine, len(feeds)),
        }
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        for log in logs:
            log.close()
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=8, help="jobs at once per worker process")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (the workers' logs)")
    args = parser.parse_args(argv)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    port = free_port()
    feeds = generate(port, feeds=args.feeds, items=args.items)
    print(
        f"# {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}; "
        f"{args.feeds} feeds × {args.items} items on loopback",
        flush=True,
    )
    rows = []
    pg = PgServer(bin_dir)
    pg.start()
    try:
        with serving(feeds, port), tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
            tmp = args.keep or scratch
            rows.append(run_sqlite(Path(tmp) / "sqlite", feeds))
            print(json.dumps(rows[-1]), flush=True)
            for count in args.workers:
                rows.append(run_workers(Path(tmp) / f"w{count}", feeds, pg, count, args.concurrency))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        pg.stop()
    print("\n| run | items | items/s (first download → last item judged) | wall s (start-up included) |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['kind']} | {row['items']:,} | {row['items_per_s']:,} | {row['wall']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
