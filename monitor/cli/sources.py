"""`monitor sources import FILE.opml` and `monitor sources export`: a reader's subscriptions in
and out, as OPML (`monitor.collect.opml`). Import appends the feeds sources.toml lacks (its comments
kept), checks the whole new file as the monitor will read it, and only then puts it in place;
a broken OPML file is one error line and changes nothing."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from monitor.cli.base import EXIT_OK, root, run_command
from monitor.cli.output import iso, open_repository, print_json
from monitor.collect.opml import ImportPlan, appended_text, plan_import, read_opml_file, render_opml, replace_checked
from monitor.config import SOURCES_FILE, Config, load_sources


@root.group("sources", invoke_without_command=True, help="sources and their health; import and export them as OPML")
@click.option("--json", "json_", is_flag=True)
@click.pass_context
def sources_(ctx: click.Context, json_: bool) -> None:
    if ctx.invoked_subcommand is None:
        run_command(ctx, cmd_sources, json=json_)


@sources_.command("import", help="add the feeds of an OPML file to sources.toml (those it lacks)")
@click.argument("file", type=click.Path(path_type=Path), metavar="FILE.opml")
@click.option("--dry-run", is_flag=True, help="say what would be added; write nothing")
@click.pass_context
def import_(ctx: click.Context, file: Path, dry_run: bool) -> None:
    run_command(ctx, cmd_import, file=file, dry_run=dry_run)


@sources_.command("export", help="the feed sources as OPML 2.0, on stdout (or --output FILE)")
@click.option("--output", "-o", type=click.Path(path_type=Path), metavar="FILE")
@click.pass_context
def export_(ctx: click.Context, output: Path | None) -> None:
    run_command(ctx, cmd_export, output=output)


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


def cmd_import(args: argparse.Namespace, config: Config, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    plan = plan_import(read_opml_file(args.file), config.sources)
    path = config.dir / SOURCES_FILE
    if plan.added and not args.dry_run:
        text = appended_text(path.read_text(encoding="utf-8"), plan.added, args.file.name, now)
        replace_checked(path, text, load_sources)
    print_plan(plan, path, dry_run=args.dry_run)
    return EXIT_OK


def print_plan(plan: ImportPlan, path: Path, *, dry_run: bool) -> None:
    verb = "would add" if dry_run else "added"
    print(f"{verb} {len(plan.added)} feed(s) to {path}; skipped {len(plan.skipped)}")
    for source in plan.added:
        print(f"  + {source.id}: {source.url}" + (f" ({source.name})" if source.name else ""))
    for feed, why in plan.skipped:
        where = f"line {feed.line}: " if feed.line else ""
        print(f"  - {where}{feed.url[:200]}: {why}")


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    document = render_opml(config.sources, title="claim-monitor sources", now=datetime.now(UTC))
    if args.output:
        args.output.write_bytes(document)
    else:
        sys.stdout.write(document.decode("utf-8"))
    pages = [s.id for s in config.sources if s.kind != "feed"]
    if pages:
        print(f"left out {len(pages)} page source(s), which are not feeds: {', '.join(pages)}", file=sys.stderr)
    return EXIT_OK
