"""The `notify` command: the notification ledger (`monitor notify`), a pass now (`monitor notify
send`), and a test message to one target (`monitor notify test ID`). The work is
`monitor.pipeline.notify`; this module parses and prints. URLs are never printed: a channel is shown
by its target's id and a hash, a failure by the service's scheme."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console

from monitor.cli.base import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, root, run_command
from monitor.cli.output import iso, open_repository, print_json
from monitor.config import Config
from monitor.errors import DeliveryError
from monitor.pipeline.notify import NotifyReport, notify_pass, routes
from monitor.records import NotificationRecord
from monitor.storage import SqlRepository
from monitor.tell.channel import AppriseChannel, url_scheme
from monitor.tell.status import NotifyStatus


@root.group(
    "notify", invoke_without_command=True, help="alerts, digests and source health on [[notify]] channels (Apprise)"
)
@click.option("--json", "json_", is_flag=True, help="the ledger as a JSON array")
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def notify_(ctx: click.Context, json_: bool, limit: int) -> None:
    if ctx.invoked_subcommand is None:
        run_command(ctx, cmd_list, json=json_, limit=limit)


@notify_.command("send", help="queue what there is to tell and send what is due (the service does it)")
@click.pass_context
def send_(ctx: click.Context) -> None:
    run_command(ctx, cmd_send)


@notify_.command("test", help="send a test message to every URL of a target (not recorded)")
@click.argument("target", metavar="ID")
@click.pass_context
def test_(ctx: click.Context, target: str) -> None:
    run_command(ctx, cmd_test, target=target)


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    repo = open_repository(config)
    records = repo.notifications(limit=args.limit)
    if args.json:
        print_json([notification_json(r) for r in records])
        return EXIT_OK
    if not records:
        print("no notifications" + ("" if config.settings.notify else " ([[notify]] is not configured)"))
    for r in records:
        print(describe(r))
    return EXIT_OK


def cmd_send(args: argparse.Namespace, config: Config) -> int:
    report = run_pass(config, open_repository(config, sync_sources=True))
    return EXIT_FAILED if report.failed else EXIT_OK


def run_pass(config: Config, repo: SqlRepository) -> NotifyReport:
    """A pass now, its outcome printed (for `notify send` and after `run --once`)."""
    if not config.settings.notify:
        return NotifyReport()
    report = notify_pass(config, repo, AppriseChannel(os.environ), datetime.now(UTC))
    print_report(report)
    return report


def print_report(report: NotifyReport) -> None:
    if report.busy:
        print(f"notify: another process is sending ({report.busy}); it sends these too", file=sys.stderr)
    for r in report.sent:
        note = " (again: an attempt cut short by a crash may have arrived)" if r in report.repeated else ""
        print(f"notify: sent {r.key} to {r.channel}{note}")
    for r in report.failed:
        print(
            f"error: notify {r.key} to {r.channel}: {r.last_error} (attempt {r.attempts}; retried at "
            f"{iso(r.next_attempt_at)})",
            file=sys.stderr,
        )


def cmd_test(args: argparse.Namespace, config: Config) -> int:
    found = [r for r in routes(config.settings.notify) if r.target.id == args.target]
    if not found:
        print(f"error: no enabled [[notify]] target {args.target!r}", file=sys.stderr)
        return EXIT_CONFIG
    channel, failed = AppriseChannel(os.environ), 0
    for route in found:
        try:
            channel.send(route.url, "claim-monitor: test", f"A test message to [[notify]] {route.target.id}.")
            print(f"{route.channel} ({url_scheme(route.url)}://): sent")
        except DeliveryError as e:
            failed += 1
            print(f"{route.channel}: {e}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def print_status(console: Console, status: NotifyStatus | None) -> None:
    if status is None:
        return
    counts = ", ".join(f"{n} {state}" for state, n in sorted(status.counts.items())) or "none yet"
    console.print(f"notifications: {counts}", style="yellow" if status.unsent else None, markup=False)
    for r in status.unsent:
        console.print(f"  {describe(r)}; next try {iso(r.next_attempt_at)}", markup=False, highlight=False)


def describe(r: NotificationRecord) -> str:
    when = iso(r.sent_at or r.last_attempt_at or r.created_at)
    extra = f" · {r.last_error}" if r.status != "sent" and r.last_error else ""
    repeat = f" · sent again after {r.interrupted} crash(es)" if r.interrupted else ""
    return f"{when}  {r.status:<7} {r.channel:<24} {r.key}  attempts {r.attempts}{repeat}{extra}"


def notification_json(r: NotificationRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "channel": r.channel,
        "key": r.key,
        "kind": r.kind,
        "title": r.title,
        "status": r.status,
        "attempts": r.attempts,
        "interrupted": r.interrupted,
        "last_error": r.last_error,
        "created_at": iso(r.created_at),
        "next_attempt_at": iso(r.next_attempt_at),
        "last_attempt_at": iso(r.last_attempt_at),
        "sent_at": iso(r.sent_at),
    }
