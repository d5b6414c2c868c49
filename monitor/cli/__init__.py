"""The command line: parse arguments, build the dependencies, call the pipeline, print."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from monitor import __version__
from monitor.cli import claims as cli_claims
from monitor.cli import digest as cli_digest
from monitor.cli import judge as cli_judge
from monitor.cli import notify as cli_notify
from monitor.cli import sources as cli_sources
from monitor.cli import stories as cli_stories
from monitor.cli import web as cli_web
from monitor.cli.output import iso, item_json, open_repository, print_json, topic_matcher
from monitor.collect.articles import RobotsCache
from monitor.collect.fetch import HttpxFetcher
from monitor.config import Config, load_config, resolve_config_dir
from monitor.errors import ConfigError, MonitorError
from monitor.logs import configure_logging
from monitor.pipeline.cycle import Cycle, utcnow
from monitor.pipeline.metrics import Metrics
from monitor.pipeline.run import run_cycle
from monitor.pipeline.status import read_status
from monitor.records import CycleReport, Fetcher, SourceState
from monitor.service import serve
from monitor.settings import Source
from monitor.storage import SqlRepository, close_databases, open_database
from monitor.storage.lock import POLL, LockHeldError, abandon_running_cycles, holding_lock
from monitor.tell.status import StatusReport, status_json

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_BUSY = 3  # another process holds the database lock
log = logging.getLogger("monitor")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    default_level = "info" if args.command in ("serve", "web") else "warning"
    configure_logging(args.log_level or default_level, "json" if args.log_json else "text")
    try:
        config = load_config(resolve_config_dir(args.config))
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    configured = config.settings.log
    if configured.level or configured.format == "json":  # the command line wins over [log]
        configure_logging(
            args.log_level or configured.level or default_level, "json" if args.log_json else configured.format
        )
    try:
        return int(args.func(args, config))
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except MonitorError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        close_databases()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor", description="A claim-aware news monitor for AI-chip export controls."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", metavar="DIR", help="config directory (default: $MONITOR_CONFIG or ./config)")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["debug", "info", "warning", "error"],
        help="default: [log] level, else info for serve and warning for the rest",
    )
    parser.add_argument("--log-json", action="store_true", help="log JSON lines (default: [log] format)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="poll the sources")
    run.add_argument("--once", action="store_true", required=True, help="poll every source once, then exit")
    run.set_defaults(func=cmd_run)

    items = commands.add_parser("items", help="list stored items")
    items.add_argument("--since", type=parse_when, metavar="DATE", help="published at or after DATE (UTC)")
    items.add_argument("--source", metavar="ID")
    items.add_argument("--limit", type=int, default=None)
    items.add_argument("--json", action="store_true", help="a JSON array of items")
    items.set_defaults(func=cmd_items)

    sources = commands.add_parser("sources", help="sources and their health")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(func=cmd_sources)
    cli_sources.register(sources)  # sources import FILE.opml, sources export

    cli_digest.register(commands, parse_when, parse_day)

    serve_ = commands.add_parser("serve", help="run the scheduled service (polls, digests, upkeep) until stopped")
    serve_.set_defaults(func=cmd_serve)

    status = commands.add_parser("status", help="the service, next runs, last cycle, source health, last digest")
    status.add_argument("--check", action="store_true", help="exit 1 when unhealthy (for container health checks)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    cli_claims.register(commands, parse_when)
    cli_judge.register(commands)
    cli_stories.register(commands, parse_when)
    cli_notify.register(commands)
    cli_web.register(commands)
    return parser


def parse_when(value: str) -> datetime:
    """An ISO date or date-time; naive means UTC."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {value!r}") from e
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_day(value: str) -> datetime:
    return datetime.combine(parse_when(value).date(), time(), tzinfo=UTC)


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


def cmd_items(args: argparse.Namespace, config: Config) -> int:
    repo = open_repository(config)
    items = repo.list_items(since=args.since, source_id=args.source, limit=args.limit)
    if args.json:
        print_json([item_json(i) for i in items])
        return EXIT_OK
    table = Table(title=f"{len(items)} items")
    for column in ("id", "published", "source", "lang", "title", "dup of", "relevant"):
        table.add_column(column, overflow="fold")
    for i in items:
        table.add_row(
            str(i.id),
            f"{i.published_at:%Y-%m-%d %H:%M}",
            i.source_id,
            i.lang,
            i.title,
            str(i.duplicate_of or ""),
            ("yes" if i.relevant else "no") + (f" ({i.relevant_why})" if i.relevant_why else ""),
        )
    Console().print(table)
    return EXIT_OK


def cmd_sources(args: argparse.Namespace, config: Config) -> int:
    states = open_repository(config, sync_sources=True).source_states([s.id for s in config.sources])
    if args.json:
        rows = [{k: (iso(v) if isinstance(v, datetime) else v) for k, v in asdict(s).items()} for s in states]
        print_json(rows)
        return EXIT_OK
    table = Table(title=f"{len(states)} sources")
    for column in ("source", "kind", "items", "last poll", "status", "errors", "last success", "last error"):
        table.add_column(column, overflow="fold")
    for s in states:
        table.add_row(
            s.id,
            s.kind,
            str(s.item_count),
            _short(s.last_polled_at),
            s.last_status or "never",
            str(s.consecutive_errors),
            _short(s.last_success_at),
            (s.last_error or "")[:160],
            style="red" if s.last_status == "error" else None,
        )
    Console().print(table)
    return EXIT_OK


def _short(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d %H:%M}" if when else "-"


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


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    engine = open_database(config.database_url)
    report = read_status(config, engine, utcnow())
    engine.dispose()
    if args.json:
        print_json(status_json(report))
    elif not args.check:
        _print_status(report)
    if args.check:
        verdict = "healthy" if report.health.ok else "unhealthy"
        print("; ".join([verdict, *report.health.reasons]), file=sys.stderr if args.json else sys.stdout)
        return EXIT_OK if report.health.ok else EXIT_FAILED
    return EXIT_OK


def _print_verifier(console: Console, report: StatusReport) -> None:
    v = report.verifier
    if v is None:
        return
    line = f"verifier: {v.model} at {v.base_url}; {v.pending_items} items wait for it"
    console.print(line, style="yellow" if v.pending_items else None)
    used = report.last_cycle.verifier if report.last_cycle else None
    if used is not None:
        console.print(
            f"  last cycle: {used.calls} calls, {used.tokens} tokens, {used.seconds:.1f}s; {used.invalid} unusable "
            f"answers, {used.errors} failed calls, {used.left} questions left for the next cycle"
            + (f"; stopped: {used.stopped}" if used.stopped else "")
        )


def _print_status(report: StatusReport) -> None:
    console = Console()
    holder = report.service
    if report.service_running and holder:
        console.print(f"service: running, pid {holder.pid} on {holder.host}, since {_stamp(holder.acquired_at)} UTC")
    elif report.service_stale:
        console.print(f"service: not running ({report.service_stale.reason}: a stale lock)", style="red")
    else:
        console.print("service: not running", style="red")
    if report.poll:
        console.print(
            f"poll in progress: {report.poll.purpose} (pid {report.poll.pid}), since {_stamp(report.poll.acquired_at)}"
        )
    elif report.poll_stale:
        stale = report.poll_stale
        console.print(f"poll lock: stale, left by {stale.holder.purpose} ({stale.reason}); the next poll takes it over")
    console.print(
        f"next: poll {_stamp(report.next_poll_at)}, digest {_stamp(report.next_digest_at)}, "
        f"maintenance {_stamp(report.next_maintenance_at)} (UTC; schedule in {report.timezone})"
    )
    c = report.last_cycle
    if c:
        console.print(
            f"last cycle #{c.id} ({c.trigger}): {c.status}, {_stamp(c.started_at)}, {c.sources} sources: "
            f"{c.ok} ok, {c.not_modified} not modified, {c.failed} failed; {c.new} new, {c.duplicate} duplicate"
        )
        if report.stale_cycle:
            console.print(f"cycle {c.id}: {report.stale_cycle}", style="red")
        for source_id, error in c.failures:
            console.print(f"  {source_id}: {error[:160]}", style="red")
    _print_verifier(console, report)
    cli_notify.print_status(console, report.notifications)
    d = report.last_digest
    console.print(
        f"last digest: {_stamp(d.period_start)} → {_stamp(d.period_end)}, {d.item_count} items, {d.path}"
        if d
        else "last digest: none"
    )
    table = Table(title=f"{len(report.sources)} sources")
    for column in ("source", "state", "errors", "last success", "next poll", "backoff", "items", "last error"):
        table.add_column(column, overflow="fold")
    for s in report.sources:
        table.add_row(
            s.id,
            s.state,
            str(s.consecutive_errors),
            _stamp(s.last_success_at),
            _stamp(s.next_poll_at),
            f"{s.backoff_seconds:.0f}s" if s.backoff_seconds is not None else "",
            str(s.items),
            (s.last_error or "")[:120],
            style="red" if s.state == "failing" else None,
        )
    console.print(table)
    console.print(("healthy" if report.health.ok else "unhealthy") + "".join(f"; {r}" for r in report.health.reasons))


def _stamp(when: datetime | None) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S}" if when else "-"


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())
