"""`monitor status`: the service, next runs, the last cycle, source health, the last digest;
`--check` for container health checks."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from monitor.cli import notify as cli_notify
from monitor.cli.base import EXIT_FAILED, EXIT_OK, root, run_command
from monitor.cli.output import print_json
from monitor.config import Config
from monitor.pipeline.cycle import utcnow
from monitor.pipeline.status import read_status
from monitor.storage import open_database
from monitor.tell.status import StatusReport, status_json


@root.command("status", help="the service, next runs, last cycle, source health, last digest")
@click.option("--check", is_flag=True, help="exit 1 when unhealthy (for container health checks)")
@click.option("--json", "json_", is_flag=True)
@click.pass_context
def status_(ctx: click.Context, check: bool, json_: bool) -> None:
    run_command(ctx, cmd_status, check=check, json=json_)


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
