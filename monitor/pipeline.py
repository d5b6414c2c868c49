"""One poll cycle: fetch every source concurrently, then parse, normalise, dedupe and store
each source's batch in one transaction. Only sequences the stages; failures become data."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment
from sqlalchemy.exc import IntegrityError

from monitor.dedupe import plan_batch
from monitor.digest.build import Digest, build_digest
from monitor.digest.deliver import write_file
from monitor.digest.render import render_markdown
from monitor.errors import ParseError, SourceError
from monitor.models import CycleReport, Fetcher, FetchResult, ParsedFeed, Settings, Source, SourceOutcome
from monitor.normalize import to_intents
from monitor.parse.feeds import parse_feed
from monitor.storage import SqlRepository

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
OnOutcome = Callable[[SourceOutcome], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


async def poll_sources(
    sources: Sequence[Source],
    repo: SqlRepository,
    fetcher: Fetcher,
    settings: Settings,
    *,
    clock: Clock = utcnow,
    on_outcome: OnOutcome | None = None,
) -> CycleReport:
    """Poll each source once. Downloads run in parallel; each batch is written when its
    download completes (one writer: this event loop)."""
    started_at = clock()
    tasks = [asyncio.create_task(poll_one(s, repo, fetcher, settings, clock)) for s in sources]
    outcomes: list[SourceOutcome] = []
    for task in asyncio.as_completed(tasks):
        outcome = await task
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    order = {s.id: n for n, s in enumerate(sources)}
    outcomes.sort(key=lambda o: order[o.source_id])
    return CycleReport(started_at, clock(), outcomes)


async def poll_one(
    source: Source, repo: SqlRepository, fetcher: Fetcher, settings: Settings, clock: Clock
) -> SourceOutcome:
    began = time.monotonic()
    state = repo.source_state(source.id)
    try:
        result = await fetcher.fetch(
            source.id,
            source.url,
            etag=state.etag,
            last_modified=state.last_modified,
            accept=FEED_ACCEPT,
            source_host=urlsplit(source.url).hostname,
        )
        outcome = store_result(source, result, repo, settings, clock)
    except SourceError as e:
        outcome = _failed(source, repo, clock, e.message, e.kind, getattr(e, "status", None))
    except Exception as e:  # a bug: keep its traceback in the log, keep the other sources going
        log.exception("source %s: unexpected error", source.id)
        outcome = _failed(source, repo, clock, f"internal error: {type(e).__name__}: {e}", "internal", None)
    elapsed = time.monotonic() - began
    log.info(
        "source=%s status=%s new=%d duplicate=%d unchanged=%d seconds=%.2f%s",
        source.id,
        outcome.status,
        outcome.counts.new,
        outcome.counts.duplicate,
        outcome.counts.unchanged,
        elapsed,
        f" error={outcome.error!r}" if outcome.error else "",
    )
    return dataclasses.replace(outcome, seconds=elapsed)


def store_result(
    source: Source, result: FetchResult, repo: SqlRepository, settings: Settings, clock: Clock
) -> SourceOutcome:
    """Parse and store one download, or record a 304, in one transaction."""
    next_poll_at = clock() + timedelta(seconds=source.interval or settings.poll.interval)
    if result.not_modified:
        with repo.session() as session, session.begin():
            repo.record_success(
                session,
                source.id,
                at=result.fetched_at,
                status="not_modified",
                etag=result.etag or None,
                last_modified=result.last_modified,
                next_poll_at=next_poll_at,
            )
        return SourceOutcome(source.id, "not_modified", http_status=304)
    parsed = parse_document(source, result)
    intents = to_intents(
        parsed.items,
        source_id=source.id,
        lang_hint=source.lang or parsed.lang,
        fetched_at=result.fetched_at,
        future_tolerance=timedelta(seconds=settings.poll.future_tolerance),
    )
    for attempt in range(2):
        try:
            with repo.session() as session, session.begin():
                planned, counts = plan_batch(intents, repo.known_keys(session, source.id, intents))
                repo.insert_items(session, planned)
                repo.record_success(
                    session,
                    source.id,
                    at=result.fetched_at,
                    status="ok",
                    etag=result.etag,
                    last_modified=result.last_modified,
                    next_poll_at=next_poll_at,
                )
            break
        except IntegrityError:
            if attempt:  # another writer stored the same items meanwhile; plan again once
                raise
    return SourceOutcome(source.id, "ok", counts=counts, warning=parsed.warning, http_status=result.status)


def parse_document(source: Source, result: FetchResult) -> ParsedFeed:
    content = result.content or b""
    if source.kind != "feed":
        raise ParseError(source.id, f"{source.kind} sources are not supported")
    parsed = parse_feed(content, result.headers, result.url)
    if not parsed.items and parsed.warning:
        raise ParseError(source.id, f"no entries: {parsed.warning}")
    return parsed


def _failed(
    source: Source, repo: SqlRepository, clock: Clock, message: str, kind: str, status: int | None
) -> SourceOutcome:
    now = clock()
    repo.record_error(source.id, at=now, message=f"{kind}: {message}", next_poll_at=now)
    return SourceOutcome(source.id, "error", error=message, error_kind=kind, http_status=status)


def write_digest(
    repo: SqlRepository,
    *,
    title: str,
    start: datetime,
    end: datetime,
    out_dir: Path,
    env: Environment,
    clock: Clock = utcnow,
) -> tuple[Path, Digest]:
    """Build the period's digest, write it as Markdown, then record it (learn after output)."""
    items = repo.list_items(since=start, until=end, by="fetched")
    copies = repo.duplicates_of([i.id for i in items if i.duplicate_of is None])
    digest = build_digest(title, start, end, items, copies, repo.source_states())
    path = write_file(out_dir, f"{end:%Y-%m-%d}.md", render_markdown(digest, env))
    repo.record_digest(start=start, end=end, path=str(path), item_count=digest.item_count, at=clock())
    return path, digest
