"""One poll cycle: fetch every source concurrently, then parse, normalise, dedupe and store
each source's batch in one transaction. Only sequences the stages; failures become data."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jinja2 import Environment
from sqlalchemy.exc import IntegrityError

from monitor.articles import ARTICLE_ACCEPT, ArticleOutcome, RobotsCache, fetch_articles
from monitor.decode import decode_html
from monitor.dedupe import plan_batch
from monitor.digest.build import Digest, build_digest
from monitor.digest.deliver import write_file
from monitor.digest.render import render_markdown
from monitor.errors import ParseError, SourceError
from monitor.models import (
    ArticleUpdate,
    CycleReport,
    Fetcher,
    FetchResult,
    ItemIntent,
    PageSelectors,
    ParsedFeed,
    Settings,
    Source,
    SourceOutcome,
    StoredItem,
)
from monitor.normalize import canonical_url, clean_text, detect_lang, to_intents
from monitor.parse.feeds import parse_feed
from monitor.parse.pages import parse_page
from monitor.relevance import TopicMatcher
from monitor.storage import SqlRepository

log = logging.getLogger(__name__)
MAX_TEXT = 200_000
Clock = Callable[[], datetime]
OnOutcome = Callable[[SourceOutcome], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True)
class Cycle:
    """What a poll cycle works with: built once by the caller, passed down."""

    repo: SqlRepository
    fetcher: Fetcher
    settings: Settings
    topic: TopicMatcher
    robots: RobotsCache
    clock: Clock = utcnow


async def poll_sources(sources: Sequence[Source], cycle: Cycle, *, on_outcome: OnOutcome | None = None) -> CycleReport:
    """Poll each source once. Downloads run in parallel; each batch is written when its
    download completes (one writer: this event loop)."""
    started_at = cycle.clock()
    tasks = [asyncio.create_task(poll_one(s, cycle)) for s in sources]
    outcomes: list[SourceOutcome] = []
    for task in asyncio.as_completed(tasks):
        outcome = await task
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    order = {s.id: n for n, s in enumerate(sources)}
    outcomes.sort(key=lambda o: order[o.source_id])
    return CycleReport(started_at, cycle.clock(), outcomes)


async def poll_one(source: Source, cycle: Cycle) -> SourceOutcome:
    """Fetch, store, then enrich one source; any failure is recorded on the source."""
    began = time.monotonic()
    state = cycle.repo.source_state(source.id)
    try:
        result = await cycle.fetcher.fetch(
            source.id,
            source.url,
            etag=state.etag,
            last_modified=state.last_modified,
            accept=FEED_ACCEPT if source.kind == "feed" else ARTICLE_ACCEPT,
            source_host=source.host,
        )
        outcome = store_result(source, result, cycle)
        await enrich_items(source, cycle)
    except SourceError as e:
        outcome = _failed(source, cycle, e.message, e.kind, getattr(e, "status", None))
    except Exception as e:  # a bug: keep its traceback in the log, keep the other sources going
        log.exception("source %s: unexpected error", source.id)
        outcome = _failed(source, cycle, f"internal error: {type(e).__name__}: {e}", "internal", None)
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


def store_result(source: Source, result: FetchResult, cycle: Cycle) -> SourceOutcome:
    """Parse and store one download, or record a 304, in one transaction."""
    repo, settings = cycle.repo, cycle.settings
    next_poll_at = cycle.clock() + timedelta(seconds=source.interval or settings.poll.interval)
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
    intents = [
        judge_intent(intent, cycle.topic)
        for intent in to_intents(
            parsed.items,
            source_id=source.id,
            lang_hint=source.lang or parsed.lang,
            fetched_at=result.fetched_at,
            future_tolerance=timedelta(seconds=settings.poll.future_tolerance),
        )
    ]
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


def judge_intent(intent: ItemIntent, topic: TopicMatcher) -> ItemIntent:
    verdict = topic.judge(intent.title, intent.summary)
    return dataclasses.replace(intent, relevant=verdict.relevant, relevant_why=verdict.why)


async def enrich_items(source: Source, cycle: Cycle) -> None:
    """Fetch the articles of this source's items that still lack their text (new ones, and
    any a crash left behind), then store text, canonical link, language and relevance."""
    mode = source.article or cycle.settings.poll.article
    if mode == "never":
        return
    pending = cycle.repo.items_needing_article(source.id, include_irrelevant=mode == "all")
    if not pending:
        return
    outcomes = await fetch_articles(pending, cycle.fetcher, cycle.robots, source.host)
    by_id = {item.id: item for item in pending}
    updates = [article_update(by_id[o.item_id], o, cycle.topic) for o in outcomes]
    cycle.repo.apply_articles(updates)


def article_update(item: StoredItem, outcome: ArticleOutcome, topic: TopicMatcher) -> ArticleUpdate:
    """What an article adds to its item: text, a canonical link, a surer language and relevance."""
    article = outcome.article
    if outcome.status != "ok" or article is None:
        return ArticleUpdate(item.id, outcome.status, outcome.error)
    text = clean_text(article.text)[:MAX_TEXT]
    verdict = topic.judge(item.title, f"{item.summary} {text}")
    return ArticleUpdate(
        item.id,
        "ok",
        None,
        text=text,
        canonical_url=canonical_url(article.canonical_url),
        lang=detect_lang(f"{item.title} {text}", article.lang or item.lang),
        relevant=verdict.relevant,
        relevant_why=verdict.why,
    )


def parse_document(source: Source, result: FetchResult) -> ParsedFeed:
    content = result.content or b""
    if source.kind == "page":
        parsed = parse_page(decode_html(content, result.headers), result.url, source.selectors or PageSelectors())
    else:
        parsed = parse_feed(content, result.headers, result.url)
    if not parsed.items and parsed.warning:
        raise ParseError(source.id, f"no entries: {parsed.warning}")
    return parsed


def _failed(source: Source, cycle: Cycle, message: str, kind: str, status: int | None) -> SourceOutcome:
    now = cycle.clock()
    cycle.repo.record_error(source.id, at=now, message=f"{kind}: {message}", next_poll_at=now)
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
