"""Near-duplicate signatures and stories in the database: what the indexes are rebuilt from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from monitor.models import ClusterUpdate, StoredItem, StoredStory
from monitor.storage.tables import ItemRow, StoryRow


class StoryStore:
    """Mixed into SqlRepository: the near-duplicate and story half of the repository."""

    def session(self) -> Session:  # provided by SqlRepository
        raise NotImplementedError

    def items_to_cluster(self) -> list[StoredItem]:
        """Items not yet through near-duplicate and story detection, oldest published first."""
        from monitor.storage.repository import _item

        query = select(ItemRow).where(ItemRow.clustered_at.is_(None)).order_by(ItemRow.published_at, ItemRow.id)
        with self.session() as session:
            return [_item(row) for row in session.scalars(query)]

    def newest_clustered_at(self) -> datetime | None:
        """The latest publication date among clustered items: the windows end there."""
        with self.session() as session:
            return session.scalar(select(func.max(ItemRow.published_at)).where(ItemRow.clustered_at.is_not(None)))

    def signatures_since(self, since: datetime) -> list[tuple[int, bytes, datetime, int | None]]:
        """(id, signature, published_at, duplicate_of) of clustered items since `since`."""
        query = (
            select(ItemRow.id, ItemRow.signature, ItemRow.published_at, ItemRow.duplicate_of)
            .where(ItemRow.signature.is_not(None), ItemRow.published_at >= since)
            .order_by(ItemRow.published_at, ItemRow.id)
        )
        with self.session() as session:
            return [(int(i), bytes(s or b""), p, d) for i, s, p, d in session.execute(query)]

    def story_members_since(self, since: datetime) -> list[StoredItem]:
        """Clustered original items since `since`, with their stories, oldest first."""
        from monitor.storage.repository import _item

        query = (
            select(ItemRow)
            .where(ItemRow.story_id.is_not(None), ItemRow.duplicate_of.is_(None), ItemRow.published_at >= since)
            .order_by(ItemRow.published_at, ItemRow.id)
        )
        with self.session() as session:
            return [_item(row) for row in session.scalars(query)]

    def save_clusters(self, updates: Sequence[ClusterUpdate], at: datetime) -> None:
        """Store signatures, copies and stories of a batch in one transaction (bulk statements).
        An item keeps a `duplicate_of` it already has (an exact copy: its update carries None)."""
        stories = [
            {"id": u.story_id, "title": u.new_story[0], "lang": u.new_story[1], "first_seen_at": u.new_story[2]}
            for u in updates
            if u.new_story is not None
        ]
        items = [
            {"id": u.item_id, "signature": u.signature, "story_id": u.story_id, "clustered_at": at} for u in updates
        ]
        copies = [{"id": u.item_id, "duplicate_of": u.duplicate_of} for u in updates if u.duplicate_of is not None]
        with self.session() as session, session.begin():
            if stories:
                session.execute(insert(StoryRow), stories)
            if items:
                session.execute(update(ItemRow), items)
            if copies:
                session.execute(update(ItemRow), copies)

    def list_stories(self, *, since: datetime | None = None, relevant_only: bool = False) -> list[StoredStory]:
        """Stories first seen since `since`, newest first, each with its items."""
        from monitor.storage.repository import _item

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
                        members.setdefault(int(row.story_id or 0), []).append(_item(row))
            return [
                StoredStory(s.id, s.title, s.lang, s.first_seen_at, tuple(members[s.id]))
                for s in stories
                if members.get(s.id)
            ]
