"""`monitor run --once` and `monitor serve`: a poll cycle now, or the service until stopped;
and `build_cycle`, the one place a cycle's dependencies are put together."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from monitor.cli import notify as cli_notify
from monitor.cli import web as cli_web
from monitor.cli.base import EXIT_BUSY, EXIT_FAILED, EXIT_OK, root, run_command
from monitor.cli.output import topic_matcher
from monitor.collect.articles import RobotsCache
from monitor.collect.fetch import HttpxFetcher
from monitor.config import Config
from monitor.pipeline.cycle import Cycle, utcnow
from monitor.pipeline.metrics import Metrics
from monitor.pipeline.run import run_cycle
from monitor.records import CycleReport, Fetcher, SourceState
from monitor.service import serve
from monitor.settings import Source
from monitor.storage import SqlRepository, open_database
from monitor.storage.lock import POLL, LockHeldError, abandon_running_cycles, holding_lock


@root.command("run", help="poll the sources")
@click.option("--once", is_flag=True, required=True, help="poll every source once, then exit")
@click.pass_context
def run_(ctx: click.Context, once: bool) -> None:
    run_command(ctx, cmd_run, once=once)


@root.command("serve", help="run the scheduled service (polls, digests, upkeep) until stopped")
@click.pass_context
def serve_(ctx: click.Context) -> None:
    run_command(ctx, cmd_serve)


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    engine = open_database(config.database_url)
    try:
        with holding_lock(engine, POLL, config.settings.service.lock_ttl, "monitor run --once"):
            abandon_running_cycles(engine, at=utcnow())  # left by a run that was killed
            repo = SqlRepository(engine)
            repo.sync_sources(config.sources)
            sources = [s for s in config.sources if s.enabled]
            console = Console(stderr=True)
            report = asyncio.run(_poll_with_progress(sources, repo, config, console))
    except LockHeldError as e:
        print(f"busy: a poll is in progress on this database: {e}. Try again when it ends.", file=sys.stderr)
        return EXIT_BUSY
    Console().print(_report_table(report, repo.source_states()))
    cli_notify.run_pass(config, repo)  # alerts and source health on [[notify]] channels
    if report.all_failed:
        return EXIT_FAILED
    return EXIT_OK


async def _poll_with_progress(
    sources: list[Source], repo: SqlRepository, config: Config, console: Console
) -> CycleReport:
    async with HttpxFetcher(config.settings.http) as fetcher:
        cycle = build_cycle(config, repo, fetcher)
        with cycle.verifier or contextlib.nullcontext():
            return await _run_with_progress(sources, cycle, console)


async def _run_with_progress(sources: list[Source], cycle: Cycle, console: Console) -> CycleReport:
    if not console.is_terminal:
        return await run_cycle(sources, cycle, trigger="once")
    columns = (TextColumn("polling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=len(sources))
        return await run_cycle(
            sources,
            cycle,
            trigger="once",
            on_outcome=lambda o: progress.update(task, advance=1, description=o.source_id),
        )


def build_cycle(config: Config, repo: SqlRepository, fetcher: Fetcher, metrics: Metrics | None = None) -> Cycle:
    """What a poll cycle works with; the one place it is put together (run --once, serve)."""
    # Imported here: building the judge loads its encoder, which most commands never need.
    from monitor.pipeline.build import build_judge, build_verifier

    return Cycle(
        repo,
        fetcher,
        config.settings,
        topic_matcher(config),
        RobotsCache(fetcher, config.settings.http.user_agent),
        build_judge(config),
        verifier=build_verifier(config),
        metrics=metrics,
    )


def _report_table(report: CycleReport, states: list[SourceState]) -> Table:
    names = {s.id: s.name or s.id for s in states}
    seconds = (report.finished_at - report.started_at).total_seconds()
    table = Table(title=f"Poll {report.started_at:%Y-%m-%d %H:%M:%S} UTC, {seconds:.1f}s")
    for column in ("source", "status", "new", "duplicate", "unchanged", "error"):
        table.add_column(
            column, justify="right" if column in ("new", "duplicate", "unchanged") else "left", overflow="fold"
        )
    totals = [0, 0, 0]
    for o in report.outcomes:
        counts = (o.counts.new, o.counts.duplicate, o.counts.unchanged)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        note = o.error or o.warning or ""
        table.add_row(names.get(o.source_id, o.source_id), o.status, *map(str, counts), note[:200])
    failed = sum(o.status == "error" for o in report.outcomes)
    table.add_row("total", f"{failed} failed" if failed else "ok", *map(str, totals), "", style="bold")
    return table


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    engine = open_database(config.database_url)
    metrics = Metrics()  # counted by the cycles and digests, served by the web side's /metrics
    try:
        web = cli_web.web_beside_serve(config, metrics)
        return serve(config, engine, lambda repo, fetcher: build_cycle(config, repo, fetcher, metrics), web)
    except LockHeldError as e:
        print(
            f"busy: monitor serve is already running on this database: {e}. Stop it first; the lock of one that "
            f"died is freed at once on the same host, else {config.settings.service.lock_ttl}s after its last "
            "heartbeat.",
            file=sys.stderr,
        )
        return EXIT_BUSY
    finally:
        engine.dispose()
