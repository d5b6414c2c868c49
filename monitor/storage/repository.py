"""SqlRepository: every read and write the monitor makes, as domain types in and out.

One transaction per unit of work; ORM rows never leave this module.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, Select, bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.records import (
    ArticleUpdate,
    CycleRecord,
    DigestRecord,
    ItemIntent,
    KnownKeys,
    Planned,
    SourceOutcome,
    SourceState,
    StoredItem,
    VerifierReport,
)
from monitor.storage.db import in_chunks
from monitor.storage.dedupe_locks import lock_dedupe_keys
from monitor.storage.deliveries import DigestStore
from monitor.storage.flags import FlagStore
from monitor.storage.notifications import NotificationStore
from monitor.storage.polls import PollStore
from monitor.storage.rows import cycle_record, item_record, state_record
from monitor.storage.stories import StoryStore
from monitor.storage.tables import CycleRow, DigestRow, ItemRow, SourceRow, relevant_original, table_of, to_judge
from monitor.storage.vectors import VectorStore


class ConfiguredSource(Protocol):
    """What the source table keeps of a configured source (`monitor.settings.Source` is one):
    storage reads the configuration's shape without importing it."""

    @property
    def id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str | None: ...


# Sources' states as Core rows (`rows.SourceColumns`): read for every poll and every scheduler
# tick, they need no ORM objects.
_SOURCE_ROWS = select(*table_of(SourceRow).columns)
_SOURCE_STATE = _SOURCE_ROWS.where(table_of(SourceRow).c.id == bindparam("source"))


class SqlRepository(FlagStore, StoryStore, DigestStore, VectorStore, NotificationStore, PollStore):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session = sessionmaker(engine, expire_on_commit=False)

    def session(self) -> Session:
        return self._session()

    # -- sources -------------------------------------------------------------

    def sync_sources(self, sources: Iterable[ConfiguredSource]) -> None:
        """Make the source table agree with the config; a changed URL forgets its validators."""
        with self.session() as session, session.begin():
            rows = {row.id: row for row in session.scalars(select(SourceRow))}
            for source in sources:
                row = rows.get(source.id)
                if row is None:
                    session.add(
                        SourceRow(
                            id=source.id, url=source.url, kind=source.kind, name=source.name, consecutive_errors=0
                        )
                    )
                    continue
                if row.url != source.url:
                    row.etag = row.last_modified = None
                row.url, row.kind, row.name = source.url, source.kind, source.name

    def source_state(self, source_id: str) -> SourceState:
        """One source's state."""
        with self.session() as session:
            row = session.execute(_SOURCE_STATE, {"source": source_id}).one_or_none()
            if row is None:
                raise KeyError(source_id)
            return state_record(row, 0)

    def source_states(self, ids: Iterable[str] | None = None) -> list[SourceState]:
        from sqlalchemy import func

        with self.session() as session:
            query_counts = select(ItemRow.source_id, func.count()).group_by(ItemRow.source_id)
            counts = {source_id: int(n) for source_id, n in session.execute(query_counts)}
            query = select(SourceRow).order_by(SourceRow.id)
            if ids is not None:
                query = query.where(SourceRow.id.in_(list(ids)))
            return [state_record(row, counts.get(row.id, 0)) for row in session.scalars(query)]

    def poll_states(self) -> list[SourceState]:
        """Every source's state without its item count: what a scheduler reads each tick
        (`source_states` counts every source's items, a scan of the item table)."""
        with self.session() as session:
            return [state_record(row, 0) for row in session.execute(_SOURCE_ROWS.order_by(table_of(SourceRow).c.id))]

    # -- items ---------------------------------------------------------------

    def known_keys(self, session: Session, source_id: str, intents: Sequence[ItemIntent]) -> KnownKeys:
        """What the store holds that this batch could collide with. On PostgreSQL, first the
        batch's keys are locked until its transaction ends (`dedupe_locks.lock_dedupe_keys`)."""
        guids = sorted({i.guid for i in intents})
        urls = sorted({i.canonical_url for i in intents if i.canonical_url})
        hashes = sorted({i.content_hash for i in intents})
        lock_dedupe_keys(session, urls, hashes)
        source_guids: set[str] = set()
        source_urls: set[str] = set()
        for part in in_chunks(guids):
            source_guids.update(
                session.scalars(select(ItemRow.guid).where(ItemRow.source_id == source_id, ItemRow.guid.in_(part)))
            )
        first_by_url: dict[str, int] = {}
        first_by_hash: dict[str, int] = {}
        for column, keys, first in (
            (ItemRow.canonical_url, urls, first_by_url),
            (ItemRow.content_hash, hashes, first_by_hash),
        ):
            for part in in_chunks(keys):
                query = (
                    select(ItemRow.id, ItemRow.source_id, column, ItemRow.duplicate_of)
                    .where(column.in_(part))
                    .order_by(ItemRow.id)
                )
                for item_id, item_source, key, duplicate_of in session.execute(query):
                    if key is None:
                        continue
                    if column is ItemRow.canonical_url and item_source == source_id:
                        source_urls.add(key)
                    first.setdefault(key, duplicate_of or item_id)
        return KnownKeys(frozenset(source_guids), frozenset(source_urls), first_by_url, first_by_hash)

    def insert_items(self, session: Session, planned: Sequence[Planned]) -> list[int]:
        """Insert planned items (one executemany); return their ids, in order."""
        if not planned:
            return []
        rows = [
            {
                "source_id": p.intent.source_id,
                "guid": p.intent.guid,
                "url": p.intent.url,
                "canonical_url": p.intent.canonical_url,
                "title": p.intent.title,
                "summary": p.intent.summary,
                "lang": p.intent.lang,
                "published_at": p.intent.published_at,
                "fetched_at": p.intent.fetched_at,
                "date_note": p.intent.date_note,
                "content_hash": p.intent.content_hash,
                "duplicate_of": p.duplicate_of,
                "relevant": p.intent.relevant,
                "relevant_why": p.intent.relevant_why,
            }
            for p in planned
        ]
        # One executemany, then the ids by (source, guid), unique: RETURNING the ids in parameter
        # order makes SQLAlchemy send one statement per row on SQLite, 2-3 times slower.
        session.execute(insert(table_of(ItemRow)), rows)
        found: dict[tuple[str, str], int] = {}
        for source_id in {p.intent.source_id for p in planned}:
            guids = [p.intent.guid for p in planned if p.intent.source_id == source_id]
            for part in in_chunks(guids):
                query = select(ItemRow.id, ItemRow.guid).where(ItemRow.source_id == source_id, ItemRow.guid.in_(part))
                found.update(((source_id, guid), item_id) for item_id, guid in session.execute(query))
        ids = [found[(p.intent.source_id, p.intent.guid)] for p in planned]
        for index, p in enumerate(planned):
            if p.duplicate_of_index is not None:
                session.execute(
                    update(ItemRow).where(ItemRow.id == ids[index]).values(duplicate_of=ids[p.duplicate_of_index])
                )
        return ids

    def items_needing_article(
        self, source_id: str, *, include_irrelevant: bool, limit: int | None = None
    ) -> list[StoredItem]:
        """Original items of the source whose article was never tried, oldest first (what a
        budget left over is fetched before what came since), at most `limit`."""
        query = self._needing_article(include_irrelevant).where(ItemRow.source_id == source_id)
        with self.session() as session:
            return [item_record(row) for row in session.scalars(query.order_by(ItemRow.id).limit(limit))]

    def count_needing_article(self, source_id: str, *, include_irrelevant: bool) -> int:
        query = self._needing_article(include_irrelevant).where(ItemRow.source_id == source_id)
        with self.session() as session:
            return int(session.scalar(query.with_only_columns(func.count())) or 0)

    def sources_needing_articles(self, source_ids: Sequence[str], *, include_irrelevant: bool) -> list[str]:
        """Those of `source_ids` with an item whose article was never tried."""
        if not source_ids:
            return []
        query = (
            self._needing_article(include_irrelevant)
            .where(ItemRow.source_id.in_(list(source_ids)))
            .with_only_columns(ItemRow.source_id)
            .distinct()
        )
        with self.session() as session:
            return sorted(session.scalars(query))

    def has_unfinished_items(self, *, fetched_before: datetime | None = None) -> bool:
        """Whether an item is still to be clustered or judged (work a stop cut short), of those
        fetched before `fetched_before` if given (what a digest of a period ending then covers)."""
        unclustered = select(ItemRow.id).where(ItemRow.clustered_at.is_(None))
        unjudged = select(ItemRow.id).where(to_judge())
        if fetched_before is not None:
            # through `coalesce` (a no-op: never null), which no index on fetched_at serves: the
            # pending items are few and indexed, the items fetched before a date are all of them,
            # and SQLite, offered that range, reads it
            before = func.coalesce(ItemRow.fetched_at, fetched_before) < fetched_before
            unclustered, unjudged = unclustered.where(before), unjudged.where(before)
        with self.session() as session:
            return any(session.execute(q.limit(1)).first() is not None for q in (unclustered, unjudged))

    @staticmethod
    def _needing_article(include_irrelevant: bool) -> Select[ItemRow]:
        query = select(ItemRow).where(ItemRow.article_status.is_(None))
        return query.where(ItemRow.duplicate_of.is_(None) if include_irrelevant else relevant_original())

    def apply_articles(self, updates: Sequence[ArticleUpdate]) -> None:
        """Store what the articles gave, in one transaction. The article's canonical link
        replaces the feed's unless another item of the source has it; when another item
        anywhere has it, this item is a copy of that one."""
        with self.session() as session, session.begin():
            for update_ in updates:
                row = session.get(ItemRow, update_.item_id)
                if row is None:
                    continue
                row.article_status, row.article_error = update_.status, update_.error
                if update_.status != "ok":
                    continue
                row.text = update_.text
                row.matched_at = None  # judged again with the article's text (it may have been judged without)
                row.lang = update_.lang or row.lang
                if update_.relevant is not None:
                    row.relevant, row.relevant_why = update_.relevant, update_.relevant_why
                self._adopt_canonical(session, row, update_.canonical_url)

    @staticmethod
    def _adopt_canonical(session: Session, row: ItemRow, canonical: str | None) -> None:
        if not canonical or canonical == row.canonical_url or canonical.split("/", 3)[-1] == "":
            return  # no link, the same link, or a site's home page: nothing learnt
        query = select(ItemRow).where(ItemRow.canonical_url == canonical, ItemRow.id != row.id).order_by(ItemRow.id)
        holders = list(session.scalars(query))
        if holders:
            first = holders[0]
            root = first.duplicate_of or first.id
            if root != row.id and row.duplicate_of is None and first.id < row.id:
                row.duplicate_of = root
        if not any(h.source_id == row.source_id for h in holders):
            row.canonical_url = canonical

    def list_items(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        source_id: str | None = None,
        by: str = "published",
        limit: int | None = None,
    ) -> list[StoredItem]:
        """Items newest first; `by` chooses the date the period applies to: published or fetched."""
        column = ItemRow.fetched_at if by == "fetched" else ItemRow.published_at
        query = select(ItemRow).order_by(column.desc(), ItemRow.id.desc())
        if since is not None:
            query = query.where(column >= since)
        if until is not None:
            query = query.where(column < until)
        if source_id is not None:
            query = query.where(ItemRow.source_id == source_id)
        if limit is not None:
            query = query.limit(limit)
        with self.session() as session:
            return [item_record(row) for row in session.scalars(query)]

    def count_items(self) -> int:
        from sqlalchemy import func

        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(ItemRow)) or 0)

    def items_by_ids(self, ids: Iterable[int]) -> list[StoredItem]:
        with self.session() as session:
            return [item_record(row) for row in session.scalars(select(ItemRow).where(ItemRow.id.in_(list(ids))))]

    def duplicates_of(self, ids: Sequence[int]) -> dict[int, list[StoredItem]]:
        """The copies of each given item."""
        found: dict[int, list[StoredItem]] = {}
        with self.session() as session:
            query = select(ItemRow).where(ItemRow.duplicate_of.in_(list(ids))).order_by(ItemRow.id)
            for row in session.scalars(query):
                found.setdefault(int(row.duplicate_of or 0), []).append(item_record(row))
        return found

    # -- digests -------------------------------------------------------------

    def record_digest(self, *, start: datetime, end: datetime, path: str, item_count: int, at: datetime) -> int:
        with self.session() as session, session.begin():
            row = DigestRow(period_start=start, period_end=end, path=path, item_count=item_count, created_at=at)
            session.add(row)
            session.flush()
            return int(row.id)

    def last_digest_end(self) -> datetime | None:
        with self.session() as session:
            return session.scalar(select(DigestRow.period_end).order_by(DigestRow.period_end.desc()).limit(1))

    def find_items(self, *, url: str | None = None) -> list[StoredItem]:
        with self.session() as session:
            query = select(ItemRow).where(or_(ItemRow.url == url, ItemRow.canonical_url == url))
            return [item_record(row) for row in session.scalars(query)]

    # -- poll cycles, digests and upkeep (the service) --------------------------

    def start_cycle(self, *, trigger: str, at: datetime, sources: int) -> int:
        """Record a poll cycle as running; `finish_cycle` completes the row."""
        with self.session() as session, session.begin():
            row = CycleRow(trigger=trigger, started_at=at, status="running", sources=sources)
            session.add(row)
            session.flush()
            return int(row.id)

    def finish_cycle(
        self,
        cycle_id: int,
        *,
        at: datetime,
        status: str,
        outcomes: Sequence[SourceOutcome],
        verifier: VerifierReport | None = None,
    ) -> None:
        failures = [[o.source_id, o.error or "error"] for o in outcomes if o.status == "error"]
        verifier_json = json.dumps(dataclasses.asdict(verifier), ensure_ascii=False) if verifier else None
        with self.session() as session, session.begin():
            session.execute(
                update(CycleRow)
                .where(CycleRow.id == cycle_id)
                .values(
                    finished_at=at,
                    status=status,
                    ok=sum(o.status == "ok" for o in outcomes),
                    not_modified=sum(o.status == "not_modified" for o in outcomes),
                    failed=len(failures),
                    new_items=sum(o.counts.new for o in outcomes),
                    duplicates=sum(o.counts.duplicate for o in outcomes),
                    unchanged=sum(o.counts.unchanged for o in outcomes),
                    failures=json.dumps(failures, ensure_ascii=False) if failures else None,
                    verifier=verifier_json,
                )
            )

    def last_cycle(self) -> CycleRecord | None:
        with self.session() as session:
            row = session.scalar(select(CycleRow).order_by(CycleRow.id.desc()).limit(1))
            return cycle_record(row) if row is not None else None

    def last_digest(self) -> DigestRecord | None:
        with self.session() as session:
            row = session.scalar(select(DigestRow).order_by(DigestRow.period_end.desc(), DigestRow.id.desc()).limit(1))
            if row is None:
                return None
            return DigestRecord(row.id, row.period_start, row.period_end, row.path, row.item_count, row.created_at)

    def digests(self) -> list[DigestRecord]:
        with self.session() as session:
            rows = session.scalars(select(DigestRow).order_by(DigestRow.period_end, DigestRow.id))
            return [DigestRecord(r.id, r.period_start, r.period_end, r.path, r.item_count, r.created_at) for r in rows]

    def maintain(self, *, vacuum_ratio: float = 0.2) -> dict[str, str]:
        """Tidy the database: on SQLite, `PRAGMA optimize`, a WAL checkpoint (truncating the
        log) and a VACUUM when free pages pass `vacuum_ratio` of the file. Other databases look
        after themselves (PostgreSQL's autovacuum). Returns what was done."""
        if self.engine.dialect.name != "sqlite":
            return {"skipped": f"nothing to do on {self.engine.dialect.name}"}
        done: dict[str, str] = {}
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("PRAGMA optimize"))
            done["optimize"] = "ok"
            pages = int(conn.execute(text("PRAGMA page_count")).scalar() or 0)
            free = int(conn.execute(text("PRAGMA freelist_count")).scalar() or 0)
            if pages and free / pages > vacuum_ratio:
                conn.execute(text("VACUUM"))
                done["vacuum"] = f"{free} of {pages} pages were free"
            busy, log, moved = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
            done["checkpoint"] = f"busy={busy} log={log} checkpointed={moved}"
        return done
