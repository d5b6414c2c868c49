"""`monitor items`: the stored items, newest first."""

from __future__ import annotations

import argparse
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from monitor.cli.base import EXIT_OK, WHEN, root, run_command
from monitor.cli.output import item_json, open_repository, print_json
from monitor.config import Config


@root.command("items", help="list stored items")
@click.option("--since", type=WHEN, metavar="DATE", help="published at or after DATE (UTC)")
@click.option("--source", metavar="ID")
@click.option("--limit", type=int, default=None)
@click.option("--json", "json_", is_flag=True, help="a JSON array of items")
@click.pass_context
def items_(ctx: click.Context, since: datetime | None, source: str | None, limit: int | None, json_: bool) -> None:
    run_command(ctx, cmd_items, since=since, source=source, limit=limit, json=json_)


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
