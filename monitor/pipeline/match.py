"""The judge's part of a cycle: embed the relevant originals once, as clustering asks for them
(their vectors stored, for stories and for the judge), judge them against the claims, and let
the verifier settle the judge's candidates where one is configured. A chunk at a time, so
memory does not grow with the cycle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from monitor.judge.judge import Judge
from monitor.judge.llm import Verifier
from monitor.judge.reading import ItemReading
from monitor.judge.verifier import ToVerify, verify_items
from monitor.keep.clustering import VectorLookup
from monitor.pipeline.metrics import Metrics
from monitor.records import Decision, StoredItem
from monitor.storage import SqlRepository
from monitor.storage.vectors import StoredVectors

log = logging.getLogger(__name__)


def embedding_lookup(repo: SqlRepository, judge: Judge, now: datetime) -> VectorLookup | None:
    """What stories read of the judge's vectors (None without an encoder): of the items asked
    for, the relevant ones the judge has still to judge are read, embedded and stored first, so
    the judge reuses their vectors; then the stored vectors of all of them. Clustering asks only
    for originals, so the near copies MinHash finds (which the judge never judges) are never
    embedded."""
    stored = stored_vectors(repo, judge)
    if stored is None:
        return None

    def lookup(ids: Sequence[int]) -> dict[int, np.ndarray]:
        if items := repo.items_to_match(ids=ids):
            readings = [judge.read(i.title, _item_text(i), i.published_at) for i in items]
            item_vectors(repo, judge, [i.id for i in items], readings, now)
        return dict(stored(ids))

    return lookup


def stored_vectors(repo: SqlRepository, judge: Judge) -> VectorLookup | None:
    """What stories read of the judge's stored vectors: those of its encoder (None without one)."""
    if judge.encoder is None:
        return None
    name = judge.encoder_name

    def lookup(ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {item_id: _unpacked(v) for item_id, v in repo.load_vectors(ids, name).items()}

    return lookup


def _unpacked(stored: StoredVectors) -> np.ndarray:
    return np.frombuffer(stored.data, dtype=np.float16).reshape(stored.rows, stored.dim).astype(np.float32)


def match_items(
    repo: SqlRepository,
    judge: Judge,
    now: datetime,
    *,
    source_id: str | None = None,
    since: datetime | None = None,
    again: bool = False,
    chunk: int = 500,
    verifier: Verifier | None = None,
    metrics: Metrics | None = None,
) -> int:
    """Judge relevant original items against the claims and store the flags; returns the count
    of items judged. `again` re-judges items judged before (review states are kept). Items are
    loaded, judged and stored `chunk` at a time, so memory does not grow with their number; an
    item's sentence vectors are stored once and reused, so a rematch embeds nothing new. With a
    `verifier`, its verdicts decide the flags (`verify_matches`), and items it could not finish
    with are judged again, from their stored vectors, in the next cycle. An item the judge fails
    on is logged (`event=judge_failed`) and stored as judged, its flags as they were; the rest
    of its chunk is judged (`_judged_apart`). A storage error, memory running out, or a failure
    on every item of a chunk still ends the call."""
    count, after = 0, None
    pending_too = verifier is not None
    while items := repo.items_to_match(
        source_id=source_id, since=since, again=again, pending=pending_too, after=after, limit=chunk
    ):
        began = time.monotonic()
        failed: list[int] = []
        try:
            results, pending = _judged(repo, judge, items, now, verifier)
        except (SQLAlchemyError, MemoryError):
            raise
        except Exception:  # a bug that an item's text found: the chunk again, item by item
            results, pending, failed = _judged_apart(repo, judge, items, now, verifier)
        repo.save_matches(results, now, pending, failed)
        if metrics is not None:
            metrics.observe_judged((d for _, d in results), time.monotonic() - began, len(items))
        count, after = count + len(items), items[-1].id
    return count


Judged = list[tuple[int, list[Decision]]]


def _judged(
    repo: SqlRepository, judge: Judge, items: Sequence[StoredItem], now: datetime, verifier: Verifier | None
) -> tuple[Judged, set[int]]:
    """Each item's decisions, and those with verifier questions left."""
    readings = [judge.read(i.title, _item_text(i), i.published_at) for i in items]
    vectors = item_vectors(repo, judge, [i.id for i in items], readings, now)
    if verifier is None:
        return [(i.id, judge.decide(r, v)) for i, r, v in zip(items, readings, vectors, strict=True)], set()
    return verify_matches(repo, judge, verifier, items, readings, vectors)


def _judged_apart(
    repo: SqlRepository, judge: Judge, items: Sequence[StoredItem], now: datetime, verifier: Verifier | None
) -> tuple[Judged, set[int], list[int]]:
    """`_judged` one item at a time, after the chunk failed: the items that fail again are
    logged and returned apart (stored as judged, their flags untouched), so one item that
    breaks the judge does not stop it for every item after it, cycle after cycle. When no item
    can be judged, the failure is not an item's (the encoder, memory, a bug for every text):
    it is raised, and the chunk stays to judge, as before."""
    results: Judged = []
    pending: set[int] = set()
    failed: list[int] = []
    for item in items:
        try:
            done, waiting = _judged(repo, judge, [item], now, verifier)
        except (SQLAlchemyError, MemoryError):
            raise
        except Exception:
            if not results and len(failed) == len(items) - 1:
                raise
            log.exception("event=judge_failed item=%d source=%s", item.id, item.source_id)
            failed.append(item.id)
            continue
        results += done
        pending |= waiting
    return results, pending, failed


def _item_text(item: StoredItem) -> str:
    return f"{item.summary}\n{item.text or ''}"


def verify_matches(
    repo: SqlRepository,
    judge: Judge,
    verifier: Verifier,
    items: Sequence[StoredItem],
    readings: Sequence[ItemReading],
    vectors: Sequence[np.ndarray | None],
) -> tuple[list[tuple[int, list[Decision]]], set[int]]:
    """Each item's flags once the verifier has had its say on the judge's candidates, and the
    items with questions left (the cycle's budget spent or the server down: their judge flags
    stand, `unverified`, until a later cycle asks). Stored answers are used, never paid twice."""
    entries = [ToVerify(i.id, i.title, _item_text(i), r, v) for i, r, v in zip(items, readings, vectors, strict=True)]
    settled, fresh = verify_items(judge, verifier.settings, entries, repo.load_verdicts, verifier.resolve)
    repo.save_verdicts(fresh.values())
    results = [(int(item_id), flags) for item_id, flags, _ in settled]
    return results, {int(item_id) for item_id, _, left in settled if left}


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
            found.append(_unpacked(known))
            continue
        vectors = judge.embed(reading)
        found.append(vectors)
        if vectors is None:
            continue
        half = vectors.astype(np.float16)
        fresh.append(StoredVectors(item_id, judge.encoder_name, key, half.shape[0], half.shape[1], half.tobytes()))
    repo.save_vectors(fresh, now)
    return found
