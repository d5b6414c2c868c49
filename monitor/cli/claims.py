"""The claim commands: `claims`, `claims show`, `claims check`, `claims import`, `flags`,
`flags confirm|dismiss`, `rematch`."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from monitor.cli.base import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, ISO_DAY, WHEN, root, run_command
from monitor.cli.output import iso, item_json, open_repository, print_json
from monitor.config import CLAIMS_FILE, Config, load_registry
from monitor.errors import ConfigError, InputError, MonitorError
from monitor.judge.importing import (
    article_headers,
    article_id_from,
    check_collisions,
    claim_prefix,
    merge_article,
    read_import,
    render_article,
    splice_article,
)
from monitor.judge.registry import ARTICLE_ID, Article, Claim, Registry
from monitor.judge.standing import standings
from monitor.pipeline.match import match_items
from monitor.records import StoredFlag, Verification


@root.group("claims", invoke_without_command=True, help="the claims and where each stands")
@click.option("--json", "json_", is_flag=True)
@click.pass_context
def claims_(ctx: click.Context, json_: bool) -> None:
    if ctx.invoked_subcommand is None:
        run_command(ctx, cmd_claims, json=json_)


@claims_.command("show", help="one claim's timeline with evidence")
@click.argument("claim_id", metavar="ID")
@click.option("--json", "json_", is_flag=True)
@click.pass_context
def show_(ctx: click.Context, claim_id: str, json_: bool) -> None:
    run_command(ctx, cmd_claim_show, claim_id=claim_id, json=json_)


@claims_.command("check", help="validate a claim registry")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.pass_context
def check_(ctx: click.Context, file: Path | None) -> None:
    """FILE: default claims.toml of the config directory."""
    run_command(ctx, cmd_claims_check, file=file)


@claims_.command(
    "import",
    short_help="add an article's claims from a Markdown table (| id | claim |) or from the article's text",
    help="FILE is a Markdown table of claims (| id | claim |), or the article itself: then its sentences that state "
    "a fact are proposed as claims and the text is kept under the config directory. The article is added to "
    "claims.toml, or replaces the article of the same id.",
)
@click.argument("file", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--article", metavar="ID", help="the article's id (default: from FILE's name)")
@click.option("--published", type=ISO_DAY, metavar="YYYY-MM-DD", help="the article's date")
@click.option("--language", type=click.Choice(["en", "zh", "zh-Hans", "zh-Hant"]), help="the article's language")
@click.option("--config", metavar="DIR", help="config directory")
@click.pass_context
def import_(
    ctx: click.Context,
    file: Path,
    article: str | None,
    published: dt.date | None,
    language: str | None,
    config: str | None,
) -> None:
    params = {"file": file, "article": article, "published": published, "language": language}
    run_command(ctx, cmd_claims_import, **params, config=config)


@root.group("flags", invoke_without_command=True, help="list and review claim flags")
@click.option("--claim", metavar="ID")
@click.option("--state", type=click.Choice(["new", "confirmed", "dismissed"]))
@click.option("--since", type=WHEN, metavar="DATE", help="flags raised since DATE (UTC)")
@click.option("--json", "json_", is_flag=True, help="a JSON array of flags")
@click.pass_context
def flags_(ctx: click.Context, claim: str | None, state: str | None, since: datetime | None, json_: bool) -> None:
    if ctx.invoked_subcommand is None:
        run_command(ctx, cmd_flags, claim=claim, state=state, since=since, json=json_)


def _review_command(verb: str) -> None:
    @flags_.command(verb, help=f"{verb} a flag")
    @click.argument("flag_id", type=int, metavar="ID")
    @click.option("--note", metavar="TEXT")
    @click.pass_context
    def review(ctx: click.Context, flag_id: int, note: str | None) -> None:
        run_command(ctx, cmd_flag_review, flag_id=flag_id, note=note, verb=verb)


for _verb in ("confirm", "dismiss"):
    _review_command(_verb)


@root.command("rematch", help="re-judge stored items, keeping review states")
@click.option("--since", type=WHEN, metavar="DATE", help="items published since DATE")
@click.pass_context
def rematch_(ctx: click.Context, since: datetime | None) -> None:
    run_command(ctx, cmd_rematch, since=since)


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
        "verification": verification_json(flag.verification),
    }


def verification_json(v: Verification | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"status": v.status, "model": v.model, "at": iso(v.at), "reason": v.reason, "confidence": v.confidence}


def cmd_flags(args: argparse.Namespace, config: Config) -> int:
    flags = open_repository(config).list_flags(claim_id=args.claim, state=args.state, since=args.since)
    if args.json:
        print_json([flag_json(f) for f in flags])
        return EXIT_OK
    table = Table(title=f"{len(flags)} flags")
    checked = any(f.verification is not None for f in flags)
    columns = ("id", "claim", "relation", "score", "state", "published", "item", "evidence")
    for column in columns + (("verifier",) if checked else ()):
        table.add_column(column, overflow="fold")
    for f in flags:
        row = [
            str(f.id),
            f.claim_id,
            f.relation,
            f"{f.score:.2f}",
            f.state,
            f"{f.item.published_at:%Y-%m-%d}",
            f"{f.item.title} ({', '.join(f.sources)})",
            f.evidence[:240],
        ]
        table.add_row(*row, *((f.verification.summary()[:240] if f.verification else "",) if checked else ()))
    Console().print(table)
    return EXIT_OK


def cmd_flag_review(args: argparse.Namespace, config: Config) -> int:
    state = "confirmed" if args.verb == "confirm" else "dismissed"
    if not open_repository(config).review_flag(args.flag_id, state, args.note, datetime.now(UTC)):
        print(f"error: no flag {args.flag_id}", file=sys.stderr)
        return EXIT_FAILED
    print(f"flag {args.flag_id}: {state}")
    return EXIT_OK


def claim_json(claim: Claim) -> dict[str, Any]:
    return {
        "id": claim.id,
        "article_id": claim.article_id,
        "text": claim.text,
        "quote": claim.quote,
    }


def cmd_claims(args: argparse.Namespace, config: Config) -> int:
    result = standings(config.registry.claims, open_repository(config).list_flags())
    if args.json:
        rows = [
            {
                **claim_json(s.claim),
                "status": s.status,
                "counts": s.counts,
                "latest": flag_json(s.latest) if s.latest else None,
            }
            for s in result
        ]
        print_json(rows)
        return EXIT_OK
    table = Table(title=f"{len(result)} claims")
    for column in ("claim", "status", "supports", "contradicts", "updates", "latest flag", "text"):
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
            s.claim.text[:120],
        )
    Console().print(table)
    return EXIT_OK


def cmd_claim_show(args: argparse.Namespace, config: Config) -> int:
    claim = config.registry.claim(args.claim_id)
    if claim is None:
        print(f"error: no claim {args.claim_id} in the registry", file=sys.stderr)
        return EXIT_FAILED
    [standing] = standings([claim], open_repository(config).list_flags(claim_id=args.claim_id))
    if args.json:
        doc = {
            **claim_json(claim),
            "status": standing.status,
            "counts": standing.counts,
            "timeline": [flag_json(f) for f in standing.timeline],
        }
        print_json(doc)
        return EXIT_OK
    published = f", {claim.article_published:%Y-%m-%d}" if claim.article_published else ""
    print(f"{claim.id} · {standing.status} · article {claim.article_id}{published}")
    print(f"  {claim.text}")
    if claim.quote:
        print(f"  the article: “{claim.quote}”")
    if not standing.timeline:
        print("\n  No flag yet: nothing in the news has borne on this claim.")
    for f in standing.timeline:
        print(f"\n  {f.item.published_at:%Y-%m-%d} · {f.relation} · score {f.score:.2f} · flag {f.id} ({f.state})")
        print(f"    {f.item.title}")
        print(f"    {f.item.url or f.item.canonical_url or ''}  [{', '.join(f.sources)}]")
        print(f"    “{f.evidence}”")
        if f.verification is not None:
            print(f"    {f.verification.summary()}")
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
    problems = registry_warnings(registry)
    for line in problems:
        print(f"warning: {path}: {line}", file=sys.stderr)
    print(f"{path}: {len(registry.articles)} articles, {len(registry.claims)} claims, {len(problems)} warnings")
    return EXIT_OK


def registry_warnings(registry: Registry) -> list[str]:
    """What is valid but weakens the judge: an article without a date (news is read against
    it), a quote that is not the article's words."""
    problems = [
        f"[{a.id}] no published date: news before and after it cannot be told apart"
        for a in registry.articles
        if a.published is None
    ]
    for article in registry.articles:
        body = _folded(article.body or "")
        problems += [
            f"[{c.id}] its quote is not found in the text of article {article.id}"
            for c in article.claims
            if body and c.quote and _folded(c.quote) not in body
        ]
    return problems


def _folded(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def cmd_rematch(args: argparse.Namespace, config: Config) -> int:
    # Imported here: building the judge loads its encoder, which the other commands never need.
    from monitor.pipeline.build import build_judge, build_verifier

    judge, verifier = build_judge(config), build_verifier(config)
    repo = open_repository(config)
    with verifier or contextlib.nullcontext():  # one cycle's budget; what is left waits for the next cycle
        count = match_items(repo, judge, datetime.now(UTC), since=args.since, again=True, verifier=verifier)
    print(f"re-matched {count} items")
    if verifier is not None:
        used = verifier.report()
        waiting = repo.count_verify_pending()
        print(f"verifier: {used.calls} calls, {used.tokens} tokens; {waiting} items wait for a later cycle")
    return EXIT_OK


# --- claims import ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What `claims import` did: the article as written, and what it replaced."""

    article: Article
    replaced: int | None  # the claims the article had before; None: a new article
    claims_path: Path
    text_path: Path | None  # the article's text, when the file was the article


def cmd_claims_import(args: argparse.Namespace, config: Config) -> int:
    try:
        details = {"published": args.published, "language": args.language}
        done = import_claims(args.file, config.dir / CLAIMS_FILE, args.article, details)
    except (InputError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    article, count = done.article, len(done.article.claims)
    what = "new" if done.replaced is None else f"replacing its {done.replaced} claims"
    print(f"{count} claims added to article {article.id} ({what}) in {done.claims_path}")
    if done.text_path is not None:
        print(f"article text: {done.text_path}")
        print("the claims are the article's sentences that state a fact: review them in claims.toml")
    if article.published is None:
        print(f'note: article {article.id} has no published date: add published = "YYYY-MM-DD"')
    return EXIT_OK


def import_claims(
    file: Path, claims_path: Path, article_id: str | None, details: dict[str, object] | None = None
) -> ImportOutcome:
    """Read FILE, build the article, and write claims.toml (and the article's text) only once
    the whole result has loaded as a registry: a mistake anywhere leaves every file as it was.
    `details` sets the article's keys the command line gives (published, language; None: kept)."""
    if article_id is not None and not re.match(ARTICLE_ID, article_id):
        raise InputError(file, f"--article {article_id!r} is not an article id (letters, digits, '_', '.', '-')")
    target = article_id or article_id_from(file.name, file.resolve().parent.name)
    imported = read_import(_read_input(file), str(file), claim_prefix(article_id))
    registry = load_registry(claims_path)
    check_collisions(imported, registry, target, str(file))
    position = next((n for n, a in enumerate(registry.articles) if a.id == target), None)
    existing = None if position is None else registry.articles[position]
    article = merge_article(existing, imported, target)
    article = article.model_copy(update={k: v for k, v in (details or {}).items() if v is not None})
    before = registry.articles
    expected = (*before, article) if position is None else (*before[:position], article, *before[position + 1 :])
    text = _spliced(claims_path, registry, position, article)
    text_file = claims_path.parent / article.text if imported.body is not None and article.text else None
    _write_validated(claims_path, text, expected, article if text_file else None)
    replaced = None if existing is None else len(existing.claims)
    return ImportOutcome(article, replaced, claims_path, text_file)


def _read_input(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as e:
        raise InputError(file, f"cannot read: {e.strerror}") from e


def _spliced(claims_path: Path, registry: Registry, position: int | None, article: Article) -> str:
    """claims.toml's text with the article put in; its comments and other articles kept as written."""
    old = claims_path.read_text(encoding="utf-8") if claims_path.exists() else ""
    if len(article_headers(old)) != len(registry.articles):
        raise ConfigError(claims_path, "not every article is an [[article]] table: edit this file by hand")
    return splice_article(old, position, render_article(article))


def _write_validated(claims_path: Path, text: str, expected: tuple[Article, ...], with_body: Article | None) -> None:
    """Write `text` beside claims.toml, load it (with the new article text, not written yet),
    check it holds `expected`, then put the article text and claims.toml in place."""
    bodies = {with_body.text: with_body.body} if with_body and with_body.text and with_body.body else {}
    temp = _temp_file(claims_path, text)
    try:
        _check_written(temp, bodies, expected, claims_path)
        for relative, body in bodies.items():
            _replace_file(claims_path.parent / relative, body)
        temp.replace(claims_path)
    except OSError as e:
        raise ConfigError(claims_path, f"cannot write: {e.strerror}") from e
    finally:
        temp.unlink(missing_ok=True)


def _check_written(temp: Path, bodies: dict[str, str], expected: tuple[Article, ...], claims_path: Path) -> None:
    """The rewritten file must load and hold exactly the articles meant: anything else is a bug
    of the rewrite, and the reader's file must not pay for it."""
    try:
        written = load_registry(temp, bodies=bodies)
    except ConfigError as e:
        raise MonitorError(f"{claims_path}: the rewritten registry would be invalid ({e}); nothing written") from e
    if _contents(written.articles) != _contents(expected):
        raise MonitorError(f"{claims_path}: the rewritten registry would not hold the import; nothing written")


def _contents(articles: tuple[Article, ...]) -> list[tuple[dict[str, Any], str | None]]:
    return [(a.model_dump(), a.body) for a in articles]


def _replace_file(target: Path, text: str) -> None:
    temp = _temp_file(target, text)
    try:
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)


def _temp_file(target: Path, text: str) -> Path:
    """A new file beside `target` (so that a rename replaces it at once), with its permissions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, prefix=".", delete=False) as f:
        f.write(text)
    temp = Path(f.name)
    temp.chmod(mode)
    return temp
