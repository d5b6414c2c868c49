"""How the per-item cost grows with the store: dedupe, near-duplicates and stories, and claim
matching for new items against 10k and 100k stored items; and the digest of 10k items.

The store is filled directly (one executemany per 2,000 rows) with distinct synthetic items
arriving at 2,000 a day, as `bench/dedupe_bench.py` assumes, each with its near-duplicate
signature and its own story, clustered and matched; so the near-duplicate window (30 days) and
the story window (7 days) hold what they would after that many days of polling. Then batches of
new items (the generated feeds' own items) go through the pipeline's functions, timed per item:
`store` (known keys, plan, insert: the exact dedupe), `cluster` (near-duplicates and stories,
as `pipeline.cluster_and_match` runs them: the relevant items compared by their stored vectors
too, the stored relevant items having stand-in vectors of their own) and `match`
(`pipeline.match_items`: read, vectors stored and loaded, decide, flags stored). The judge
here has stand-in vectors at no cost (`bench.judging.HashEncoder`): the model's cost is per
item whatever the store holds (~0.2 s, `bench/judge_bench.py`), and with it the rounds would
take minutes; what can grow with the store (the queries, the vectors' table, the flags) is all
measured.

The calls to the monitor are each in one small function, so that they are easy to adapt when
the functions they call change.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

from bench.feeds import EN_WORDS, ZH_CHARS
from bench.judging import HASH_ENCODER, bench_judge, warm
from monitor.config import load_registry
from monitor.judge.judge import Judge
from monitor.keep.clustering import IndexCache, cluster_pending
from monitor.keep.dedupe import plan_batch
from monitor.pipeline.match import embedding_lookup, match_items, stored_vectors
from monitor.records import ItemIntent
from monitor.settings import Source
from monitor.storage import SqlRepository, open_database
from monitor.storage.tables import ItemRow, ItemVectorRow
from monitor.text.normalize import fold_text

ROOT = Path(__file__).resolve().parents[1]
RATE = 2000  # items a day
NOW = datetime(2025, 9, 1, 12, tzinfo=UTC)


@dataclass
class Growth:
    stored: int
    store_us: float  # per new item
    cluster_us: float | None
    match_us: float  # per new item (match_items runs on the relevant originals among them)
    cluster_relevant_us: float | None = None  # the cluster step per new relevant item


def _text(rng: random.Random, lang: str, words: int) -> str:
    if lang == "en":
        return " ".join(rng.choice(EN_WORDS) + rng.choice(("", "s", "ed", "ing")) for _ in range(words))
    return "".join(rng.choice(ZH_CHARS) for _ in range(int(words * 1.6)))


def _signature(title: str, summary: str, lang: str) -> bytes | None:
    """The near-duplicate signature `clustering.cluster` stores, if the monitor has them."""
    try:
        from monitor.keep.neardup import shingle_hashes, signature_of
    except ImportError:
        return None
    sig = signature_of(shingle_hashes(fold_text(f"{title}\n{summary}"), lang))
    return sig.to_bytes() if sig is not None else None


def fill_store(repo: SqlRepository, sources: Sequence[Source], count: int, seed: int = 3) -> None:
    """`count` distinct stored items, `RATE` a day up to NOW, already clustered, the relevant
    ones (a third) matched, with stand-in sentence vectors as the judge stores them; the others
    never matched (`matched_at` NULL), as in a real store."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    columns = set(ItemRow.__table__.columns.keys())
    rows: list[dict[str, Any]] = []
    stored_vectors: list[dict[str, Any]] = []
    for n in range(count):
        lang = rng.choice(("en", "en", "zh-Hans"))
        title, summary = _text(rng, lang, 9), _text(rng, lang, 45)
        at = NOW - timedelta(days=(count - n) / RATE)
        relevant = n % 3 == 0
        row: dict[str, Any] = {
            "id": n + 1,
            "source_id": sources[n % len(sources)].id,
            "guid": f"urn:fill:{n}",
            "url": f"http://fill.example/{n}",
            "canonical_url": f"http://fill.example/{n}",
            "title": title,
            "summary": summary,
            "lang": lang,
            "published_at": at,
            "fetched_at": at,
            "date_note": None,
            "content_hash": hashlib.sha256(f"{n}".encode()).hexdigest(),
            "duplicate_of": None,
            "relevant": relevant,
            "relevant_why": "bench",
            "matched_at": at if relevant else None,  # as the judge leaves them: only relevant originals judged
        }
        if "signature" in columns:
            row |= {"signature": _signature(title, summary, lang), "story_id": n + 1, "clustered_at": at}
        rows.append(row)
        if relevant:
            data = vectors.standard_normal((4, HASH_ENCODER.dim)).astype(np.float16).tobytes()
            stored_vectors.append(
                {"item_id": n + 1, "encoder": HASH_ENCODER.name, "key": "fill", "rows": 4, "dim": HASH_ENCODER.dim}
                | {"data": data, "created_at": at}
            )
        if len(rows) == 2000 or n == count - 1:
            with repo.session() as session, session.begin():
                session.execute(insert(ItemRow), rows)
                if stored_vectors:
                    session.execute(insert(ItemVectorRow), stored_vectors)
            rows, stored_vectors = [], []


def store_batch(repo: SqlRepository, intents: list[ItemIntent]) -> None:
    """What `pipeline.store_result` does after parsing: plan against the store, insert."""
    source_id = intents[0].source_id
    with repo.session() as session, session.begin():
        planned, _counts = plan_batch(intents, repo.known_keys(session, source_id, intents))
        repo.insert_items(session, planned)
        repo.record_success(session, source_id, at=NOW, status="ok", etag=None, last_modified=None)


def cluster_new(repo: SqlRepository, judge: Judge) -> bool:
    """Near-duplicates and stories of the new items, as `pipeline.cluster_and_match` does (the
    judge's vectors of the relevant originals embedded, at no cost, and stored as clustering asks
    for them: their reading is counted here); False when the monitor has none."""
    cache = _INDEXES.setdefault(id(repo), IndexCache())
    cluster_pending(repo, cache, NOW, vectors=embedding_lookup(repo, judge, NOW))
    return True


_INDEXES: dict[int, IndexCache] = {}


def warm_indexes(repo: SqlRepository, judge: Judge) -> float:
    """Load the near-duplicate and story indexes from the store (once per process); seconds."""
    began = time.perf_counter()
    _INDEXES.setdefault(id(repo), IndexCache()).get(repo, stored_vectors(repo, judge))
    return time.perf_counter() - began


def measure_growth(
    stored: int, sources: Sequence[Source], rounds: list[list[list[ItemIntent]]], workdir: Path
) -> tuple[list[Growth], float]:
    """Per-item cost of each round of new batches against about `stored` items (a round adds
    its items to the store); also the seconds the indexes took to load."""
    db = workdir / f"growth-{stored}.db"
    db.unlink(missing_ok=True)
    repo = SqlRepository(open_database(f"sqlite:///{db}"))
    repo.sync_sources(sources)
    fill_store(repo, sources, stored)
    judge, _which = bench_judge("hash")
    warm(judge)
    load_seconds = warm_indexes(repo, judge)
    measured = []
    for batches in rounds:
        new = sum(len(b) for b in batches)
        relevant = sum(1 for b in batches for i in b if i.relevant) or 1
        store_s = _cpu(lambda: _store_all(repo, batches))  # noqa: B023 - called at once
        has_cluster = [False]
        cluster_s = _cpu(lambda: has_cluster.__setitem__(0, cluster_new(repo, judge)))  # noqa: B023
        match_s = _cpu(lambda: match_items(repo, judge, NOW))
        cluster_us = cluster_s / new * 1e6 if has_cluster[0] else None
        relevant_us = cluster_s / relevant * 1e6 if has_cluster[0] else None
        measured.append(Growth(stored, store_s / new * 1e6, cluster_us, match_s / new * 1e6, relevant_us))
    repo.engine.dispose()
    _INDEXES.pop(id(repo), None)
    db.unlink(missing_ok=True)
    return measured, load_seconds


def _store_all(repo: SqlRepository, batches: list[list[ItemIntent]]) -> None:
    for batch in batches:
        if batch:
            store_batch(repo, batch)


def _cpu(work: Callable[[], object]) -> float:
    began = time.process_time()
    work()
    return time.process_time() - began


def render_digest(repo: SqlRepository, start: datetime, end: datetime) -> str:
    """The Markdown digest of [start, end) with the digest functions of the day (they are being
    rewritten: adapt here). Gathers as `digest.run.make_digest` does, without a Config."""
    from monitor.tell.build import DigestInput, build_digest
    from monitor.tell.render import environment, render_markdown

    items = repo.list_items(since=start, until=end, by="fetched")
    originals = [i.id for i in items if i.duplicate_of is None and i.relevant]
    registry = load_registry(ROOT / "config" / "claims.toml")
    data = DigestInput(
        items=items,
        copies=repo.duplicates_of(originals) if originals else {},
        flags=repo.list_flags(since=start),
        claims=registry.claims,
        statuses={},
        sources=repo.source_states(),
    )
    return render_markdown(build_digest("Benchmark digest", start, end, data), environment())


def measure_digest(count: int, sources: Sequence[Source], workdir: Path) -> tuple[float, int]:
    """Seconds (CPU) to gather, build and render the digest of a period holding `count` items
    (a third of them relevant); and the Markdown's length."""
    db = workdir / "digest.db"
    db.unlink(missing_ok=True)
    repo = SqlRepository(open_database(f"sqlite:///{db}"))
    repo.sync_sources(sources)
    fill_store(repo, sources, count)
    start, end = NOW - timedelta(days=count / RATE + 1), NOW + timedelta(seconds=1)
    began = time.process_time()
    text = render_digest(repo, start, end)
    seconds = time.process_time() - began
    repo.engine.dispose()
    db.unlink(missing_ok=True)
    return seconds, len(text)


def main() -> None:
    """`python -m bench.growth [--sizes 10000 100000] [--rounds 3]`: the growth rows alone (what
    `python -m bench` prints among the rest), medians of the rounds, per new item and per new
    relevant item for near-duplicates and stories."""
    import argparse
    import tempfile
    from statistics import median

    from bench import stages
    from bench.feeds import generate
    from bench.run import free_port
    from bench.server import serving

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of 1,000 new items per size")
    args = ap.parse_args()
    port = free_port()
    feeds = generate(port, feeds=20 * args.rounds, items=50)
    with serving(feeds, port), tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        batches = stages.run_stages(feeds, Path(tmp), 10)["batches"]
    rounds = [batches[n * 20 : (n + 1) * 20] for n in range(args.rounds)]
    sources = stages.sources_of(feeds)
    fields = ("store_us", "cluster_us", "cluster_relevant_us", "match_us")
    print(f"{'stored':>8} {'index load s':>12} " + " ".join(f"{f:>20}" for f in fields))
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp:
        for size in args.sizes:
            measured, load = measure_growth(size, sources, rounds, Path(tmp))
            values = [median(v for g in measured if (v := getattr(g, f)) is not None) for f in fields]
            print(f"{size:>8} {load:>12.2f} " + " ".join(f"{v:>20,.0f}" for v in values), flush=True)


if __name__ == "__main__":
    main()
