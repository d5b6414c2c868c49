"""The claim commands: `claims`, `claims show`, `claims check`, `flags`, `flags confirm|dismiss`, `rematch`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from monitor.claims.matcher import ClaimMatcher
from monitor.claims.standing import standings
from monitor.cli_output import iso, item_json, open_repository, print_json
from monitor.config import CLAIMS_FILE, Config, load_registry
from monitor.errors import ConfigError
from monitor.models import StoredFlag
from monitor.pipeline import match_items

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def register(commands: Any, parse_when: Any) -> None:
    """Add the claim and flag subcommands to the main parser."""
    claims = commands.add_parser("claims", help="the claims and where each stands")
    claims.add_argument("--json", action="store_true")
    claims.set_defaults(func=cmd_claims)
    claim_commands = claims.add_subparsers(dest="claims_command", metavar="SUBCOMMAND")
    show = claim_commands.add_parser("show", help="one claim's timeline with evidence")
    show.add_argument("claim_id", metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_claim_show)
    check = claim_commands.add_parser("check", help="validate a claim registry")
    check.add_argument("file", nargs="?", type=Path, help="default: claims.toml of the config directory")
    check.set_defaults(func=cmd_claims_check)

    flags = commands.add_parser("flags", help="list and review claim flags")
    flags.add_argument("--claim", metavar="ID")
    flags.add_argument("--state", choices=["new", "confirmed", "dismissed"])
    flags.add_argument("--since", type=parse_when, metavar="DATE", help="flags raised since DATE (UTC)")
    flags.add_argument("--json", action="store_true", help="a JSON array of flags")
    flags.set_defaults(func=cmd_flags)
    flag_commands = flags.add_subparsers(dest="flags_command", metavar="SUBCOMMAND")
    for verb in ("confirm", "dismiss"):
        review = flag_commands.add_parser(verb, help=f"{verb} a flag")
        review.add_argument("flag_id", type=int, metavar="ID")
        review.add_argument("--note", metavar="TEXT")
        review.set_defaults(func=cmd_flag_review, verb=verb)

    rematch = commands.add_parser("rematch", help="re-run the matcher over stored items, keeping review states")
    rematch.add_argument("--since", type=parse_when, metavar="DATE", help="items published since DATE")
    rematch.set_defaults(func=cmd_rematch)


# What a flag shows of its item.
FLAG_ITEM_FIELDS = ("id", "url", "canonical_url", "title", "published_at", "source", "lang")


def flag_json(flag: StoredFlag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "claim_id": flag.claim_id,
        "relation": flag.relation,
        "score": flag.score,
        "evidence": flag.evidence,
        "why": flag.why,
        "state": flag.state,
        "note": flag.note,
        "story_id": flag.item.story_id,
        "created_at": iso(flag.created_at),
        "reviewed_at": iso(flag.reviewed_at),
        "sources": list(flag.sources),
        "item": item_json(flag.item, FLAG_ITEM_FIELDS),
    }


def cmd_flags(args: argparse.Namespace, config: Config) -> int:
    flags = open_repository(config).list_flags(claim_id=args.claim, state=args.state, since=args.since)
    if args.json:
        print_json([flag_json(f) for f in flags])
        return EXIT_OK
    table = Table(title=f"{len(flags)} flags")
    for column in ("id", "claim", "relation", "score", "state", "published", "item", "evidence"):
        table.add_column(column, overflow="fold")
    for f in flags:
        table.add_row(
            str(f.id),
            f.claim_id,
            f.relation,
            f"{f.score:.2f}",
            f.state,
            f"{f.item.published_at:%Y-%m-%d}",
            f"{f.item.title} ({', '.join(f.sources)})",
            f.evidence[:240],
        )
    Console().print(table)
    return EXIT_OK


def cmd_flag_review(args: argparse.Namespace, config: Config) -> int:
    state = "confirmed" if args.verb == "confirm" else "dismissed"
    if not open_repository(config).review_flag(args.flag_id, state, args.note, datetime.now(UTC)):
        print(f"error: no flag {args.flag_id}", file=sys.stderr)
        return EXIT_FAILED
    print(f"flag {args.flag_id}: {state}")
    return EXIT_OK


def cmd_claims(args: argparse.Namespace, config: Config) -> int:
    result = standings(config.registry.claims, open_repository(config).list_flags())
    if args.json:
        rows = [
            {
                "id": s.claim.id,
                "status": s.status,
                "counts": s.counts,
                "statement_en": s.claim.statement_en,
                "latest": flag_json(s.latest) if s.latest else None,
            }
            for s in result
        ]
        print_json(rows)
        return EXIT_OK
    table = Table(title=f"{len(result)} claims")
    for column in ("claim", "status", "supports", "contradicts", "updates", "latest flag", "statement"):
        table.add_column(column, overflow="fold")
    for s in result:
        latest = (
            f"{s.latest.item.published_at:%Y-%m-%d} {s.latest.relation}: {s.latest.item.title}" if s.latest else "-"
        )
        table.add_row(
            s.claim.id,
            s.status,
            *(str(s.counts.get(r, 0)) for r in ("supports", "contradicts", "updates")),
            latest[:120],
            (s.claim.statement_en or "")[:120],
        )
    Console().print(table)
    return EXIT_OK


def cmd_claim_show(args: argparse.Namespace, config: Config) -> int:
    claims = {c.id: c for c in config.registry.claims}
    if args.claim_id not in claims:
        print(f"error: no claim {args.claim_id} in the registry", file=sys.stderr)
        return EXIT_FAILED
    [standing] = standings([claims[args.claim_id]], open_repository(config).list_flags(claim_id=args.claim_id))
    if args.json:
        doc = {
            "id": standing.claim.id,
            "status": standing.status,
            "counts": standing.counts,
            "timeline": [flag_json(f) for f in standing.timeline],
        }
        print_json(doc)
        return EXIT_OK
    claim = standing.claim
    print(f"{claim.id} · {standing.status}")
    print(f"  {claim.statement_en or ''}")
    print(f"  {claim.text_zh or ''}")
    if not standing.timeline:
        print("\n  No flag yet: nothing in the news has borne on this claim.")
    for f in standing.timeline:
        print(f"\n  {f.item.published_at:%Y-%m-%d} · {f.relation} · score {f.score:.2f} · flag {f.id} ({f.state})")
        print(f"    {f.item.title}")
        print(f"    {f.item.url or f.item.canonical_url or ''}  [{', '.join(f.sources)}]")
        print(f"    “{f.evidence}”")
        if f.note:
            print(f"    note: {f.note}")
    return EXIT_OK


def cmd_claims_check(args: argparse.Namespace, config: Config) -> int:
    path = args.file or config.dir / CLAIMS_FILE
    try:
        registry = load_registry(path)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    problems = [
        f"{path}: [{c.id}] no anchors: every item naming anything could flag it"
        for c in registry.claims
        if not c.anchors
    ]
    problems += [
        f"{path}: [{c.id}] nothing to decide a relation: add a signal, quantity or date"
        for c in registry.claims
        if not (c.signals or c.quantities or c.dates)
    ]
    ClaimMatcher(registry)  # compiles every term
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    print(f"{path}: {len(registry.claims)} claims, {len(registry.entities)} entities, {len(problems)} warnings")
    return EXIT_OK


def cmd_rematch(args: argparse.Namespace, config: Config) -> int:
    count = match_items(
        open_repository(config), ClaimMatcher(config.registry), datetime.now(UTC), since=args.since, again=True
    )
    print(f"re-matched {count} items")
    return EXIT_OK
