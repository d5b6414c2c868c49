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
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jinja2 import Environment
from sqlalchemy.exc import IntegrityError

from monitor.backoff import poll_delay
from monitor.collect.articles import ARTICLE_ACCEPT, ArticleOutcome, RobotsCache, fetch_article
from monitor.errors import ParseError, SourceError
from monitor.judge.judge import Judge
from monitor.judge.llm import Verifier
from monitor.keep.clustering import IndexCache, cluster_pending
from monitor.keep.dedupe import plan_batch
from monitor.keep.relevance import TopicMatcher
from monitor.pipeline.digest import write_markdown
from monitor.pipeline.match import embedding_lookup, match_items
from monitor.pipeline.metrics import Metrics
from monitor.pipeline.prepare import PreparedBatch, prepare_batch, prepare_in_worker, start_worker
from monitor.records import (
    ArticleUpdate,
    CycleReport,
    Fetcher,
    FetchResult,
    NotModified,
    SourceOutcome,
    SourceState,
    StoredItem,
    VerifierReport,
)
from monitor.settings import PollSettings, Settings, Source
from monitor.storage import SqlRepository
from monitor.tell.build import Digest, DigestInput, build_digest
from monitor.text.normalize import canonical_url, clean_paragraphs, detect_lang

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
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.9, */*;q=0.5"
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
    verifier: Verifier | None = None  # [judge.verifier]; None: off
    metrics: Metrics | None = None  # the process's counters (`/metrics`); None: not counted


async def poll_sources(
    sources: Sequence[Source],
    cycle: Cycle,
    *,
    on_outcome: OnOutcome | None = None,
    others: Sequence[Source] = (),
) -> CycleReport:
    """Poll each source once; fetch the articles a budget left pending for `others` (sources
    not due); then near-duplicates, stories and claims for every item not done yet. Downloads
    run in parallel; each batch is written when its download completes (one writer: this event
    loop). A source's next poll is set last: a cycle cut short leaves it due, its work found and
    done first by the next one; a cycle whose last stage fails sets them and fails."""
    started_at = cycle.clock()
    budget = ArticleBudget.start(cycle.settings.poll)
    if cycle.verifier is not None:
        cycle.verifier.start_cycle()
    outcomes: list[SourceOutcome] = []
    with parse_pool(cycle, len(sources)) as working:
        catch_up = [asyncio.create_task(enrich_items(s, working, budget)) for s in leftover(others, cycle)]
        states = {state.id: state for state in cycle.repo.poll_states()}  # one query, not one per source
        tasks = [asyncio.create_task(poll_one(s, working, budget, states.get(s.id))) for s in sources]
        for task in asyncio.as_completed(tasks):
            outcome = await task
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
        for left in await asyncio.gather(*catch_up, return_exceptions=True):
            if isinstance(left, BaseException):  # a bug: the items stay pending for the next cycle
                log.error("catching up on articles failed: %r", left)
    try:
        cluster_and_match(cycle)
    except Exception:
        # Its items stay pending, found again by the next cycle whatever source is due (as after
        # a kill); its sources get their next polls all the same: left due, each would be polled
        # again at every tick for as long as the failure lasts.
        cycle.repo.schedule_polls(outcomes)
        raise
    cycle.repo.schedule_polls(outcomes)
    order = {s.id: n for n, s in enumerate(sources)}
    outcomes.sort(key=lambda o: order[o.source_id])
    return CycleReport(started_at, cycle.clock(), outcomes, verifier_report(cycle.verifier))


def verifier_report(verifier: Verifier | None) -> VerifierReport | None:
    return verifier.report() if verifier is not None else None


def leftover(sources: Sequence[Source], cycle: Cycle) -> list[Source]:
    """Those of `sources` with articles still pending (a budget or a stop cut them short); none
    when the budget allows no article at all."""
    if not cycle.settings.poll.source_articles or not cycle.settings.poll.cycle_articles:
        return []
    by_mode: dict[bool, list[str]] = {True: [], False: []}
    for source in sources:
        mode = source.article or cycle.settings.poll.article
        if mode != "never":
            by_mode[mode == "all"].append(source.id)
    pending = {
        source_id
        for include_irrelevant, ids in by_mode.items()
        for source_id in cycle.repo.sources_needing_articles(ids, include_irrelevant=include_irrelevant)
    }
    return [s for s in sources if s.id in pending]


def has_follow_up(sources: Sequence[Source], cycle: Cycle) -> bool:
    """Whether work is left that a cycle would do without polling: articles pending for
    `sources`, items not clustered or judged."""
    return bool(leftover(sources, cycle)) or cycle.repo.has_unfinished_items()


@dataclass
class ArticleBudget:
    """What a cycle may still spend on linked articles: a count and a deadline (monotonic
    seconds), shared by its sources; each source also has its own share (`[poll]`)."""

    left: int
    deadline: float

    @classmethod
    def start(cls, poll: PollSettings) -> ArticleBudget:
        return cls(poll.cycle_articles, time.monotonic() + poll.cycle_article_seconds)

    def take(self, wanted: int) -> int:
        """Up to `wanted` articles from what is left."""
        taken = max(0, min(wanted, self.left))
        self.left -= taken
        return taken

    def seconds(self, share: float) -> float:
        """Seconds a source may spend now: its share, within the cycle's deadline."""
        return max(0.0, min(share, self.deadline - time.monotonic()))


async def poll_one(
    source: Source, cycle: Cycle, budget: ArticleBudget, state: SourceState | None = None
) -> SourceOutcome:
    """Fetch, store, then enrich one source; any failure is recorded on the source. `state`:
    the source's stored state, if read already (else read here)."""
    began = time.monotonic()
    try:
        outcome = await fetch_and_store(source, cycle, state)
        left = await enrich_items(source, cycle, budget)
        outcome = dataclasses.replace(outcome, articles_left=left)
    except SourceError as e:
        outcome = _failed(source, cycle, e.message, e.kind, getattr(e, "status", None), getattr(e, "retry_after", None))
    except Exception as e:  # a bug: keep its traceback in the log, keep the other sources going
        log.exception("source %s: unexpected error", source.id)
        outcome = _failed(source, cycle, f"internal error: {type(e).__name__}: {e}", "internal", None)
    elapsed = time.monotonic() - began
    log.info(
        "source=%s status=%s new=%d duplicate=%d unchanged=%d seconds=%.2f%s%s",
        source.id,
        outcome.status,
        outcome.counts.new,
        outcome.counts.duplicate,
        outcome.counts.unchanged,
        elapsed,
        f" articles_left={outcome.articles_left}" if outcome.articles_left else "",
        f" error={outcome.error!r}" if outcome.error else "",
    )
    return dataclasses.replace(outcome, seconds=elapsed)


async def fetch_and_store(source: Source, cycle: Cycle, state: SourceState | None = None) -> SourceOutcome:
    """Download the source and store its batch (conditionally on its stored `state`'s
    validators, read here unless given). The download (counted against the fetcher's memory
    budget while it lives) is dropped on return, before the articles are fetched."""
    state = state or cycle.repo.source_state(source.id)
    result = await cycle.fetcher.fetch(
        source.id,
        source.url,
        etag=state.etag,
        last_modified=state.last_modified,
        accept=FEED_ACCEPT if source.kind == "feed" else ARTICLE_ACCEPT,
        source_host=source.host,
    )
    prepared = None if result.not_modified else await prepare_result(source, result, cycle)
    return store_result(source, result, cycle, prepared)


def store_result(
    source: Source, result: FetchResult, cycle: Cycle, prepared: PreparedBatch | None = None
) -> SourceOutcome:
    """Store one download (prepared here unless `prepared` is given) in one transaction. The
    outcome carries the next poll, which the caller sets once the follow-up work is done
    (`poll_sources`), and a 304, which is recorded then too (`schedule_polls`)."""
    repo, settings = cycle.repo, cycle.settings
    next_poll_at = cycle.clock() + poll_delay(settings.poll, source.interval, errors=0, rand=random.random())
    if result.not_modified:  # recorded with the next poll, in one transaction for the cycle's 304s
        recorded = NotModified(result.fetched_at, result.etag or None, result.last_modified)
        return SourceOutcome(
            source.id, "not_modified", http_status=304, next_poll_at=next_poll_at, not_modified=recorded
        )
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
                )
            break
        except IntegrityError:
            if attempt:  # another writer stored the same items meanwhile; plan again once
                raise
    return SourceOutcome(
        source.id, "ok", counts=counts, warning=prepared.warning, http_status=result.status, next_poll_at=next_poll_at
    )


async def enrich_items(source: Source, cycle: Cycle, budget: ArticleBudget) -> int:
    """Fetch the articles of this source's items that still lack their text (oldest first: what
    an earlier budget or a stop left, then the new ones) and store text, canonical link,
    language and relevance, each as it arrives. Within the source's share and the cycle's
    budget: no download starts once the time is spent (those under way finish, bounded by
    their own deadline), so one slow site cannot hold up the others' next poll, and each cycle
    makes progress. Returns how many are left pending for the next cycle."""
    poll = cycle.settings.poll
    mode = source.article or poll.article
    if mode == "never":
        return 0
    include_irrelevant = mode == "all"
    wanted = budget.take(poll.source_articles)
    queue = deque(cycle.repo.items_needing_article(source.id, include_irrelevant=include_irrelevant, limit=wanted))
    budget.left += wanted - len(queue)
    share_ends = time.monotonic() + poll.source_article_seconds

    async def fetch_in_turn() -> None:
        while queue and budget.seconds(share_ends - time.monotonic()) > 0:
            item = queue.popleft()
            outcome = await fetch_article(item, cycle.fetcher, cycle.robots, source.host)
            cycle.repo.apply_articles([article_update(item, outcome, cycle.topic)])

    await asyncio.gather(*(fetch_in_turn() for _ in range(min(len(queue), cycle.settings.http.per_host))))
    budget.left += len(queue)  # not started: back to the cycle's budget
    return cycle.repo.count_needing_article(source.id, include_irrelevant=include_irrelevant)


def article_update(item: StoredItem, outcome: ArticleOutcome, topic: TopicMatcher) -> ArticleUpdate:
    """What an article adds to its item: text, a canonical link, a surer language and relevance."""
    article = outcome.article
    if outcome.status != "ok" or article is None:
        return ArticleUpdate(item.id, outcome.status, outcome.error)
    text = clean_paragraphs(article.text)[:MAX_TEXT]
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
    (oldest first, so a copy points at its original; relevant originals compared by the judge's
    vectors too, embedded as clustering asks for them), then the claims (from the vectors
    stored: nothing is embedded twice, and no near copy at all); `chunk` items at a time, each
    chunk stored before the next is loaded, so memory does not grow with the cycle."""
    lookup = embedding_lookup(cycle.repo, cycle.judge, cycle.clock())
    cluster_pending(cycle.repo, cycle.indexes, cycle.clock(), chunk=chunk, vectors=lookup)
    match_items(cycle.repo, cycle.judge, cycle.clock(), chunk=chunk, verifier=cycle.verifier, metrics=cycle.metrics)


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
                tolerance,
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


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def parse_pool(cycle: Cycle, sources: int) -> Iterator[Cycle]:
    """The cycle with worker processes to parse in, one per core but the one this process keeps
    busy (it fetches, stores and clusters: more workers would only take turns with it on the
    cores, each at ~55 MB), for a cycle of many sources on a machine of several cores; else the
    cycle as it is. The workers end with the block."""
    cores = usable_cores()
    if cycle.parser is not None or cores < 2 or sources < PARSE_POOL_MIN_SOURCES:
        yield cycle
        return
    # spawn, not fork: this process has threads (asyncio.to_thread, heartbeats) that fork would copy mid-lock.
    # Workers end with this process, also when it is killed (monitor.pipeline.lifeline).
    pool = ProcessPoolExecutor(
        max_workers=cores - 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(os.getpid(), cycle.topic.topic, cycle.topic.claim_terms),
    )
    log.debug("preparing %d sources in %d worker processes", sources, cores - 1)
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
    Atom feed, e-mail, deliveries recorded) is `monitor.pipeline.digest.run_digest`."""
    items = repo.list_items(since=start, until=end, by="fetched")
    originals = [i.id for i in items if i.duplicate_of is None and i.relevant]
    copies = repo.duplicates_of(originals) if originals else {}
    data = DigestInput(items, copies, repo.list_flags(since=start), (), {}, repo.source_states())
    digest = build_digest(title, start, end, data)
    _record, path = write_markdown(repo, digest, out_dir, env, clock())
    return path, digest
