"""Near-duplicate signatures and stories in the database: what the indexes are rebuilt from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from monitor.records import ClusterUpdate, StoredItem, StoredStory
from monitor.storage.db import in_chunks
from monitor.storage.rows import item_record
from monitor.storage.tables import ItemRow, StoryRow

_YIELD_ROWS = 2000  # rows a read of the indexes' windows holds at once


@dataclass(frozen=True, slots=True)
class ClusterItem:
    """What near-duplicate and story detection read of an item, loaded without the rest of
    its row."""

    id: int
    title: str
    summary: str
    text: str | None
    lang: str
    published_at: datetime
    duplicate_of: int | None
    story_id: int | None


_CLUSTER_COLUMNS = (
    ItemRow.id,
    ItemRow.title,
    ItemRow.summary,
    ItemRow.text,
    ItemRow.lang,
    ItemRow.published_at,
    ItemRow.duplicate_of,
    ItemRow.story_id,
)


class StoryStore:
    """Mixed into SqlRepository: the near-duplicate and story half of the repository."""

    def session(self) -> Session:  # provided by SqlRepository
        raise NotImplementedError

    def pending_clusters(self) -> list[tuple[int, datetime, bool]]:
        """(id, published_at, whether an exact copy) of the items not yet through near-duplicate
        and story detection: what their order and chunks are decided from, without their text."""
        query = select(ItemRow.id, ItemRow.published_at, ItemRow.duplicate_of.is_not(None)).where(
            ItemRow.clustered_at.is_(None)
        )
        with self.session() as session:
            return [(int(i), p, bool(c)) for i, p, c in session.execute(query)]

    def items_to_cluster(self, ids: Sequence[int] | None = None) -> list[ClusterItem]:
        """Items not yet through near-duplicate and story detection (all of them, or those of
        `ids`), oldest published first."""
        query = select(*_CLUSTER_COLUMNS).where(ItemRow.clustered_at.is_(None))
        order = (ItemRow.published_at, ItemRow.id)
        with self.session() as session:
            if ids is None:
                return [ClusterItem(*row) for row in session.execute(query.order_by(*order))]
            found = [
                ClusterItem(*row)
                for part in in_chunks(ids)
                for row in session.execute(query.where(ItemRow.id.in_(part)))
            ]
            return sorted(found, key=attrgetter("published_at", "id"))

    def newest_clustered_at(self) -> datetime | None:
        """The latest publication date among clustered items: the windows end there."""
        with self.session() as session:
            return session.scalar(select(func.max(ItemRow.published_at)).where(ItemRow.clustered_at.is_not(None)))

    def signatures_since(self, since: datetime) -> Iterator[tuple[int, bytes, datetime, int | None]]:
        """(id, signature, published_at, duplicate_of) of clustered items since `since`, read a
        few thousand rows at a time."""
        query = (
            select(ItemRow.id, ItemRow.signature, ItemRow.published_at, ItemRow.duplicate_of)
            .where(ItemRow.signature.is_not(None), ItemRow.published_at >= since)
            .order_by(ItemRow.published_at, ItemRow.id)
            .execution_options(yield_per=_YIELD_ROWS)
        )
        with self.session() as session:
            for i, s, p, d in session.execute(query):
                yield int(i), bytes(s or b""), p, d

    def story_members_since(self, since: datetime) -> Iterator[ClusterItem]:
        """Clustered original items since `since`, with their stories, oldest first, read a few
        thousand rows at a time."""
        query = (
            select(*_CLUSTER_COLUMNS)
            .where(ItemRow.story_id.is_not(None), ItemRow.duplicate_of.is_(None), ItemRow.published_at >= since)
            .order_by(ItemRow.published_at, ItemRow.id)
            .execution_options(yield_per=_YIELD_ROWS)
        )
        with self.session() as session:
            for row in session.execute(query):
                yield ClusterItem(*row)

    def save_clusters(self, updates: Sequence[ClusterUpdate], at: datetime) -> None:
        """Store signatures, copies and stories of a batch in one transaction: Core statements,
        each run once over all its rows (the ORM's bulk update cost more than clustering some
        batches). An item keeps a `duplicate_of` it already has (an exact copy: its update
        carries None)."""
        stories = [
            {"id": u.story_id, "title": u.new_story[0], "lang": u.new_story[1], "first_seen_at": u.new_story[2]}
            for u in updates
            if u.new_story is not None
        ]
        by_id = sorted(updates, key=attrgetter("item_id"))  # in table order: fewer pages to visit
        kept = [_values(u) for u in by_id if u.duplicate_of is None]
        copies = [_values(u) | {"b_copies": u.duplicate_of} for u in by_id if u.duplicate_of is not None]
        item = (
            update(ItemRow)
            .where(ItemRow.id == bindparam("b_id"))
            .values(signature=bindparam("b_sig"), story_id=bindparam("b_story"), clustered_at=at)
        )
        with self.session() as session, session.begin():
            connection = session.connection()
            if stories:
                connection.execute(insert(StoryRow), stories)
            if kept:
                connection.execute(item, kept)
            if copies:
                connection.execute(item.values(duplicate_of=bindparam("b_copies")), copies)

    def list_stories(self, *, since: datetime | None = None, relevant_only: bool = False) -> list[StoredStory]:
        """Stories first seen since `since`, newest first, each with its items."""

        query = select(StoryRow).order_by(StoryRow.first_seen_at.desc(), StoryRow.id.desc())
        if since is not None:
            query = query.where(StoryRow.first_seen_at >= since)
        with self.session() as session:
            stories = list(session.scalars(query))
            members: dict[int, list[StoredItem]] = {}
            ids = [s.id for s in stories]
            for start in range(0, len(ids), 500):
                rows = session.scalars(
                    select(ItemRow)
                    .where(ItemRow.story_id.in_(ids[start : start + 500]))
                    .order_by(ItemRow.published_at, ItemRow.id)
                )
                for row in rows:
                    if not relevant_only or row.relevant:
                        members.setdefault(int(row.story_id or 0), []).append(item_record(row))
            return [
                StoredStory(s.id, s.title, s.lang, s.first_seen_at, tuple(members[s.id]))
                for s in stories
                if members.get(s.id)
            ]


def _values(update: ClusterUpdate) -> dict[str, object]:
    return {"b_id": update.item_id, "b_sig": update.signature, "b_story": update.story_id}
