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

from rich.console import Console

from monitor.cli.output import iso, open_repository, print_json
from monitor.config import Config
from monitor.errors import DeliveryError
from monitor.pipeline.notify import NotifyReport, notify_pass, routes
from monitor.records import NotificationRecord
from monitor.storage import SqlRepository
from monitor.tell.channel import AppriseChannel, url_scheme
from monitor.tell.status import NotifyStatus

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def register(commands: Any) -> None:
    notify = commands.add_parser("notify", help="alerts, digests and source health on [[notify]] channels (Apprise)")
    notify.add_argument("--json", action="store_true", help="the ledger as a JSON array")
    notify.add_argument("--limit", type=int, default=50)
    notify.set_defaults(func=cmd_list)
    actions = notify.add_subparsers(dest="notify_action", metavar="ACTION")
    send = actions.add_parser("send", help="queue what there is to tell and send what is due (the service does it)")
    send.set_defaults(func=cmd_send)
    test = actions.add_parser("test", help="send a test message to every URL of a target (not recorded)")
    test.add_argument("target", metavar="ID")
    test.set_defaults(func=cmd_test)


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
