"""`monitor sources import FILE.opml` and `monitor sources export`: a reader's subscriptions in
and out, as OPML (`monitor.collect.opml`). Import appends the feeds sources.toml lacks (its comments
kept), checks the whole new file as the monitor will read it, and only then puts it in place;
a broken OPML file is one error line and changes nothing."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.collect.opml import ImportPlan, appended_text, plan_import, read_opml_file, render_opml, replace_checked
from monitor.config import SOURCES_FILE, Config, load_sources

EXIT_OK = 0


def register(sources: Any) -> None:
    actions = sources.add_subparsers(dest="sources_action", metavar="ACTION")
    imp = actions.add_parser("import", help="add the feeds of an OPML file to sources.toml (those it lacks)")
    imp.add_argument("file", type=Path, metavar="FILE.opml")
    imp.add_argument("--dry-run", action="store_true", help="say what would be added; write nothing")
    imp.set_defaults(func=cmd_import)
    exp = actions.add_parser("export", help="the feed sources as OPML 2.0, on stdout (or --output FILE)")
    exp.add_argument("--output", "-o", type=Path, metavar="FILE")
    exp.set_defaults(func=cmd_export)


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
