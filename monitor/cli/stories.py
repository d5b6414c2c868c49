"""`monitor stories`: items that report one event, grouped, with their outlets."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from monitor.cli.base import WHEN, root, run_command
from monitor.cli.output import iso, item_json, open_repository, print_json
from monitor.config import Config
from monitor.records import StoredStory


@root.command("stories", help="stories: items that report one event, grouped")
@click.option("--since", type=WHEN, metavar="DATE", help="stories first seen since DATE (UTC)")
@click.option("--all", "all_", is_flag=True, help="include stories of off-topic items")
@click.option("--json", "json_", is_flag=True, help="a JSON array of stories with their items")
@click.pass_context
def stories_(ctx: click.Context, since: datetime | None, all_: bool, json_: bool) -> None:
    run_command(ctx, cmd_stories, since=since, all=all_, json=json_)


STORY_ITEM_FIELDS = ("id", "source", "title", "url", "published_at", "lang", "duplicate_of")


def story_json(story: StoredStory) -> dict[str, Any]:
    return {
        "id": story.id,
        "title": story.title,
        "lang": story.lang,
        "titles": story.titles,
        "first_seen_at": iso(story.first_seen_at),
        "item_count": len(story.items),
        "outlet_count": len(story.outlets),
        "outlets": list(story.outlets),
        "items": [item_json(i, STORY_ITEM_FIELDS) for i in story.items],
    }


def cmd_stories(args: argparse.Namespace, config: Config) -> int:
    repo = open_repository(config)
    stories = repo.list_stories(since=args.since, relevant_only=not args.all)
    if args.json:
        print_json([story_json(s) for s in stories])
        return 0
    table = Table(title=f"{len(stories)} stories")
    for column in ("story", "first seen", "items", "outlets", "title", "also in"):
        table.add_column(column, overflow="fold")
    for s in stories:
        table.add_row(
            str(s.id),
            f"{s.first_seen_at:%Y-%m-%d}",
            str(len(s.items)),
            str(len(s.outlets)),
            "\n".join(s.titles.values()) or s.title,
            ", ".join(s.outlets[1:]),
        )
    Console().print(table)
    return 0
