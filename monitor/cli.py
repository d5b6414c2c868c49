"""The command line: parse arguments, build the dependencies, call the pipeline, print."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from monitor import __version__
from monitor.articles import RobotsCache
from monitor.config import Config, load_config, resolve_config_dir
from monitor.digest.render import environment
from monitor.errors import ConfigError, MonitorError
from monitor.fetch import HttpxFetcher
from monitor.models import CycleReport, Source, SourceState, StoredItem
from monitor.pipeline import Cycle, poll_sources, utcnow, write_digest
from monitor.relevance import TopicMatcher
from monitor.storage import SqlRepository, open_database

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
log = logging.getLogger("monitor")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        config = load_config(resolve_config_dir(args.config))
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return int(args.func(args, config))
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except MonitorError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor", description="A claim-aware news monitor for AI-chip export controls."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", metavar="DIR", help="config directory (default: $MONITOR_CONFIG or ./config)")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
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

    digest = commands.add_parser("digest", help="write a Markdown digest of a period")
    period = digest.add_mutually_exclusive_group()
    period.add_argument("--since", type=parse_when, metavar="DATE", help="items fetched since DATE (UTC)")
    period.add_argument("--date", type=parse_day, metavar="DAY", help="items fetched on DAY (UTC)")
    digest.add_argument("--out", type=Path, metavar="DIR", help="directory for the file (default: storage/digests)")
    digest.set_defaults(func=cmd_digest)
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


def _repository(config: Config) -> SqlRepository:
    repo = SqlRepository(open_database(config.database_url))
    repo.sync_sources(config.sources)
    return repo


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    repo = _repository(config)
    sources = [s for s in config.sources if s.enabled]
    console = Console(stderr=True)
    report = asyncio.run(_poll_with_progress(sources, repo, config, console))
    Console().print(_report_table(report, repo.source_states()))
    if report.all_failed:
        return EXIT_FAILED
    return EXIT_OK


async def _poll_with_progress(
    sources: list[Source], repo: SqlRepository, config: Config, console: Console
) -> CycleReport:
    async with HttpxFetcher(config.settings.http) as fetcher:
        cycle = Cycle(
            repo,
            fetcher,
            config.settings,
            TopicMatcher(config.topic),
            RobotsCache(fetcher, config.settings.http.user_agent),
        )
        if not console.is_terminal:
            return await poll_sources(sources, cycle)
        columns = (TextColumn("polling"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"))
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("", total=len(sources))
            return await poll_sources(
                sources, cycle, on_outcome=lambda o: progress.update(task, advance=1, description=o.source_id)
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


def item_json(item: StoredItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "source": item.source_id,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "summary": item.summary,
        "published_at": _iso(item.published_at),
        "fetched_at": _iso(item.fetched_at),
        "date_note": item.date_note,
        "lang": item.lang,
        "duplicate_of": item.duplicate_of,
        "story_id": item.story_id,
        "relevant": item.relevant,
        "relevant_why": item.relevant_why,
        "article_status": item.article_status,
        "article_error": item.article_error,
        "text_chars": len(item.text or ""),
    }


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None


def cmd_items(args: argparse.Namespace, config: Config) -> int:
    repo = SqlRepository(open_database(config.database_url))
    items = repo.list_items(since=args.since, source_id=args.source, limit=args.limit)
    if args.json:
        json.dump([item_json(i) for i in items], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
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
    states = _repository(config).source_states([s.id for s in config.sources])
    if args.json:
        rows = [{k: (_iso(v) if isinstance(v, datetime) else v) for k, v in asdict(s).items()} for s in states]
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
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


def cmd_digest(args: argparse.Namespace, config: Config) -> int:
    repo = _repository(config)
    now = utcnow()
    if args.date is not None:
        start, end = args.date, args.date + timedelta(days=1)
    else:
        start, end = args.since or repo.last_digest_end() or now - timedelta(days=1), now
    path, digest = write_digest(
        repo,
        title=config.settings.digest.title,
        start=start,
        end=end,
        out_dir=args.out or config.digest_dir,
        env=environment(config.dir),
    )
    print(f"wrote {path} ({digest.item_count} items)")
    return EXIT_OK


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())
