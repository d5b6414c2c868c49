"""The `digest` command: write the digest of a period, mail it (`--send`), or show what would be
mailed (`--dry-run`). The work is `monitor.pipeline.digest`; this module parses and prints."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from monitor.cli.base import DAY, EXIT_FAILED, EXIT_OK, WHEN, exclusive, root, run_command
from monitor.cli.notify import print_report
from monitor.cli.output import open_repository
from monitor.config import Config
from monitor.pipeline.digest import DigestOutcome, EmailOutcome, Period, Preview, preview_digest, run_digest
from monitor.pipeline.notify import digest_targets, tell_digest
from monitor.tell.channel import AppriseChannel


@root.command("digest", help="write the digest of a period (Markdown, Atom feed); --send mails it")
@click.option("--since", type=WHEN, metavar="DATE", help="from DATE (UTC) to now")
@click.option("--date", type=DAY, metavar="DAY", help="the UTC day DAY")
@click.option(
    "--out", type=click.Path(path_type=Path), metavar="DIR", help="directory for the files (default: storage/digests)"
)
@click.option("--send", is_flag=True, help="also mail it ([email]) and tell [[notify]] channels, once per period")
@click.option("--dry-run", is_flag=True, help="print the e-mail that --send would send; write nothing")
@click.pass_context
def digest_(
    ctx: click.Context, since: datetime | None, date: datetime | None, out: Path | None, send: bool, dry_run: bool
) -> None:
    exclusive(since=since, date=date)
    exclusive(send=send, dry_run=dry_run)
    run_command(ctx, cmd_digest, since=since, date=date, out=out, send=send, dry_run=dry_run)


def cmd_digest(args: argparse.Namespace, config: Config, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    repo = open_repository(config, sync_sources=True)
    period: Period | None = None
    if args.date is not None:
        period = (args.date, args.date + timedelta(days=1))
    elif args.since is not None:
        period = (args.since, now)
    if args.dry_run:
        print_preview(preview_digest(config, repo, now, period=period), config)
        return EXIT_OK
    mail = args.send and (config.settings.email.configured or not digest_targets(config))
    outcome = run_digest(config, repo, now, mail, period=period, out_dir=args.out)
    print_outcome(outcome)
    told = tell_digest(config, repo, AppriseChannel(os.environ), outcome.digest_id, now) if args.send else None
    if told is not None:
        print_report(told)
    for failure in outcome.failures:
        print(f"error: {failure}", file=sys.stderr)
    return EXIT_FAILED if outcome.failures or (told and told.failed) else EXIT_OK


def print_outcome(outcome: DigestOutcome) -> None:
    print(f"wrote {outcome.path} ({outcome.digest.item_count} items)")
    if outcome.feed_path:
        print(f"wrote {outcome.feed_path}")
    for email in outcome.retried:
        print(f"earlier digest {_period(email)}: {_email(email)}")
    if outcome.email.status != "not requested":
        print(f"e-mail: {_email(outcome.email)}")


def _email(e: EmailOutcome) -> str:
    if e.status == "sent":
        return f"sent to {', '.join(e.recipients)}"
    if e.status == "failed":
        return f"not sent (attempt {e.attempts}; the next run with --send retries it)"
    if e.status == "empty":
        return "not sent: nothing new in the period ([email] send_empty = false)"
    return e.status


def _period(e: EmailOutcome) -> str:
    return f"{e.start:%Y-%m-%d %H:%M} → {e.end:%Y-%m-%d %H:%M} UTC"


def print_preview(preview: Preview, config: Config) -> None:
    email = config.settings.email
    digest = preview.digest
    print(f"period: {digest.start:%Y-%m-%d %H:%M} → {digest.end:%Y-%m-%d %H:%M} UTC")
    if not email.configured:
        print("would send: no ([email] is not configured in monitor.toml)")
    elif preview.would_send:
        print("would send: yes")
    else:
        print("would send: no (" + ("already sent" if preview.reason == "already sent" else "empty period") + ")")
    print(f"from: {email.sender or '-'}")
    print(f"to: {', '.join(preview.recipients) or '-'}")
    print(f"subject: {preview.email.subject}")
    for record in preview.pending:
        print(
            f"would also retry: the digest of {record.period_start:%Y-%m-%d %H:%M} → {record.period_end:%Y-%m-%d %H:%M}"
        )
    print()
    print(preview.email.text, end="" if preview.email.text.endswith("\n") else "\n")
