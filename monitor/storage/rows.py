"""Rows to records: the one mapping of a stored item row to the `StoredItem` every reader gets.

Apart from the repository so that its mixins (flags, stories) read items without importing it.
"""

from __future__ import annotations

from monitor.records import StoredItem
from monitor.storage.tables import ItemRow


def item_record(row: ItemRow) -> StoredItem:
    return StoredItem(
        id=row.id,
        source_id=row.source_id,
        guid=row.guid,
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        summary=row.summary,
        lang=row.lang,
        published_at=row.published_at,
        fetched_at=row.fetched_at,
        date_note=row.date_note,
        duplicate_of=row.duplicate_of,
        story_id=row.story_id,
        relevant=row.relevant,
        relevant_why=row.relevant_why,
        text=row.text,
        article_status=row.article_status,
        article_error=row.article_error,
    )
