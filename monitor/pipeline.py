"""One poll cycle: fetch every source concurrently, then parse, normalise, dedupe and store
each source's batch in one transaction. Only sequences the stages; failures become data."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from jinja2 import Environment
from sqlalchemy.exc import IntegrityError

from monitor.articles import ARTICLE_ACCEPT, ArticleOutcome, RobotsCache, fetch_articles
from monitor.backoff import poll_delay
from monitor.clustering import IndexCache, cluster_pending
from monitor.dedupe import plan_batch
from monitor.digest.build import Digest, DigestInput, build_digest
from monitor.digest.run import write_markdown
from monitor.errors import ParseError, SourceError
from monitor.judge.judge import Judge
from monitor.judge.reading import ItemReading
from monitor.models import (
    ArticleUpdate,
    CycleReport,
    Fetcher,
    FetchResult,
    Settings,
    Source,
    SourceOutcome,
    StoredItem,
)
from monitor.normalize import canonical_url, clean_text, detect_lang
from monitor.prepare import PreparedBatch, prepare_batch, prepare_in_worker
from monitor.relevance import TopicMatcher
from monitor.storage import SqlRepository
from monitor.storage.vectors import StoredVectors

log = logging.getLogger(__name__)
MAX_TEXT = 200_000
# A cycle of at least this many sources prepares its downloads (parse, normalise, judge) in
# worker processes, one per core, beside the event loop's writes; a pool's start (about a second
# of imports) pays off only on many.
PARSE_POOL_MIN_SOURCES = 20
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
    judge: Judge
    clock: Clock = utcnow
    parser: Executor | None = None  # where documents are parsed; None: in the event loop's thread
    indexes: IndexCache = dataclasses.field(default_factory=IndexCache)  # near-duplicates and stories


async def poll_sources(sources: Sequence[Source], cycle: Cycle, *, on_outcome: OnOutcome | None = None) -> CycleReport:
    """Poll each source once. Downloads run in parallel; each batch is written when its
    download completes (one writer: this event loop)."""
    started_at = cycle.clock()
    outcomes: list[SourceOutcome] = []
    with parse_pool(cycle, len(sources)) as working:
        tasks = [asyncio.create_task(poll_one(s, working)) for s in sources]
        for task in asyncio.as_completed(tasks):
            outcome = await task
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
    cluster_and_match(cycle)
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
        prepared = None if result.not_modified else await prepare_result(source, result, cycle)
        outcome = store_result(source, result, cycle, prepared)
        await enrich_items(source, cycle)
    except SourceError as e:
        outcome = _failed(source, cycle, e.message, e.kind, getattr(e, "status", None), getattr(e, "retry_after", None))
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


def store_result(
    source: Source, result: FetchResult, cycle: Cycle, prepared: PreparedBatch | None = None
) -> SourceOutcome:
    """Store one download (prepared here unless `prepared` is given), or record a 304, in one
    transaction."""
    repo, settings = cycle.repo, cycle.settings
    next_poll_at = cycle.clock() + poll_delay(settings.poll, source.interval, errors=0, rand=random.random())
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
    if prepared is None:
        prepared = _usable(source, prepare_batch(source, result, cycle.topic, _tolerance(cycle)))
    intents = prepared.intents
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
    return SourceOutcome(source.id, "ok", counts=counts, warning=prepared.warning, http_status=result.status)


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


def cluster_and_match(cycle: Cycle, *, chunk: int = 2000) -> None:
    """After every source of a cycle is stored: near-duplicates and stories for the new items
    (oldest first, so a copy points at its original), then the claims; `chunk` items at a time,
    each chunk stored before the next is loaded, so memory does not grow with the cycle."""
    cluster_pending(cycle.repo, cycle.indexes, cycle.clock(), chunk=chunk)
    match_items(cycle.repo, cycle.judge, cycle.clock(), chunk=chunk)


def match_items(
    repo: SqlRepository,
    judge: Judge,
    now: datetime,
    *,
    source_id: str | None = None,
    since: datetime | None = None,
    again: bool = False,
    chunk: int = 500,
) -> int:
    """Judge relevant original items against the claims and store the flags; returns the count
    of items judged. `again` re-judges items judged before (review states are kept). Items are
    loaded, judged and stored `chunk` at a time, so memory does not grow with their number; an
    item's sentence vectors are stored once and reused, so a rematch embeds nothing new."""
    count, after = 0, None
    while items := repo.items_to_match(source_id=source_id, since=since, again=again, after=after, limit=chunk):
        readings = [judge.read(i.title, f"{i.summary}\n{i.text or ''}", i.published_at) for i in items]
        vectors = item_vectors(repo, judge, [i.id for i in items], readings, now)
        results = [(i.id, judge.decide(r, v)) for i, r, v in zip(items, readings, vectors, strict=True)]
        repo.save_matches(results, now)
        count, after = count + len(items), items[-1].id
    return count


def item_vectors(
    repo: SqlRepository, judge: Judge, ids: Sequence[int], readings: Sequence[ItemReading], now: datetime
) -> list[np.ndarray | None]:
    """Each item's sentence vectors: the stored ones where they are of this encoder and these
    sentences, else embedded now and stored (float16)."""
    if judge.encoder is None:
        return [None] * len(ids)
    stored = repo.load_vectors(ids, judge.encoder_name)
    found: list[np.ndarray | None] = []
    fresh: list[StoredVectors] = []
    for item_id, reading in zip(ids, readings, strict=True):
        key = judge.embedded_key(reading)
        known = stored.get(item_id)
        if known is not None and known.key == key:
            found.append(np.frombuffer(known.data, dtype=np.float16).reshape(known.rows, known.dim).astype(np.float32))
            continue
        vectors = judge.embed(reading)
        found.append(vectors)
        if vectors is None:
            continue
        half = vectors.astype(np.float16)
        fresh.append(StoredVectors(item_id, judge.encoder_name, key, half.shape[0], half.shape[1], half.tobytes()))
    repo.save_vectors(fresh, now)
    return found


async def prepare_result(source: Source, result: FetchResult, cycle: Cycle) -> PreparedBatch:
    """`prepare_batch` (parse, normalise, judge), in the cycle's worker processes when it has
    them, else in a thread: the event loop goes on with the other downloads and writes meanwhile,
    so a big feed does not make them miss their deadlines."""
    tolerance = _tolerance(cycle)
    if cycle.parser is not None:
        try:
            prepared = await asyncio.get_running_loop().run_in_executor(
                cycle.parser,
                prepare_in_worker,
                source,
                result,
                cycle.topic.topic,
                tolerance,
                cycle.topic.claim_terms,
            )
            return _usable(source, prepared)
        except BrokenProcessPool:  # a worker died (killed, out of memory): prepare here, as without a pool
            log.warning("source %s: the parser process died; parsing in the main process", source.id)
    return _usable(source, await asyncio.to_thread(prepare_batch, source, result, cycle.topic, tolerance))


def _tolerance(cycle: Cycle) -> timedelta:
    return timedelta(seconds=cycle.settings.poll.future_tolerance)


def _usable(source: Source, prepared: PreparedBatch) -> PreparedBatch:
    if not prepared.intents and prepared.warning:
        raise ParseError(source.id, f"no entries: {prepared.warning}")
    return prepared


@contextlib.contextmanager
def parse_pool(cycle: Cycle, sources: int) -> Iterator[Cycle]:
    """The cycle with worker processes to parse in, one per core, for a cycle of many sources on
    a machine of several cores; else the cycle as it is. The workers end with the block."""
    cores = os.cpu_count() or 1
    if cycle.parser is not None or cores < 2 or sources < PARSE_POOL_MIN_SOURCES:
        yield cycle
        return
    # spawn, not fork: this process has threads (asyncio.to_thread, heartbeats) that fork would copy mid-lock
    pool = ProcessPoolExecutor(max_workers=cores, mp_context=multiprocessing.get_context("spawn"))
    log.debug("preparing %d sources in %d worker processes", sources, cores)
    try:
        yield dataclasses.replace(cycle, parser=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _failed(
    source: Source, cycle: Cycle, message: str, kind: str, status: int | None, retry_after: float | None = None
) -> SourceOutcome:
    """Record a failure; the next poll backs off (monitor.backoff), honouring Retry-After."""
    now = cycle.clock()
    errors = cycle.repo.source_state(source.id).consecutive_errors + 1
    delay = poll_delay(
        cycle.settings.poll,
        source.interval,
        errors=errors,
        rand=random.random(),
        status=status,
        retry_after=retry_after,
    )
    cycle.repo.record_error(source.id, at=now, message=f"{kind}: {message}", next_poll_at=now + delay)
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
    """Build the period's digest, write it as Markdown, then record it (learn after output).

    Without the config it knows no claim texts and sends nothing: the full digest run (file,
    Atom feed, e-mail, deliveries recorded) is `monitor.digest.run.run_digest`."""
    items = repo.list_items(since=start, until=end, by="fetched")
    originals = [i.id for i in items if i.duplicate_of is None and i.relevant]
    copies = repo.duplicates_of(originals) if originals else {}
    data = DigestInput(items, copies, repo.list_flags(since=start), (), {}, repo.source_states())
    digest = build_digest(title, start, end, data)
    _record, path = write_markdown(repo, digest, out_dir, env, clock())
    return path, digest
