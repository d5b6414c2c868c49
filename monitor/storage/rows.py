"""Rows to records: the one mapping of each stored row (an item, a source's state, a cycle) to
the record every reader gets.

Apart from the repository so that its mixins (flags, stories) read items without importing it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Protocol

from monitor.records import CycleRecord, SourceState, StoredItem, VerifierReport
from monitor.storage.tables import CycleRow, ItemRow


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


class SourceColumns(Protocol):
    """A source's row: the ORM object or a Core row of its table's columns."""

    id: str
    url: str
    kind: str
    name: str | None
    etag: str | None
    last_modified: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    consecutive_errors: int
    last_error: str | None
    last_error_at: datetime | None
    next_poll_at: datetime | None
    failing_since: datetime | None


def state_record(row: SourceColumns, item_count: int) -> SourceState:
    return SourceState(
        id=row.id,
        url=row.url,
        kind=row.kind,
        name=row.name,
        etag=row.etag,
        last_modified=row.last_modified,
        last_polled_at=row.last_polled_at,
        last_success_at=row.last_success_at,
        last_status=row.last_status,
        consecutive_errors=row.consecutive_errors or 0,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        next_poll_at=row.next_poll_at,
        item_count=item_count,
        failing_since=row.failing_since,
    )


def cycle_record(row: CycleRow) -> CycleRecord:
    failures = tuple((str(a), str(b)) for a, b in json.loads(row.failures)) if row.failures else ()
    return CycleRecord(
        id=row.id,
        trigger=row.trigger,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        sources=row.sources,
        ok=row.ok,
        not_modified=row.not_modified,
        failed=row.failed,
        new=row.new_items,
        duplicate=row.duplicates,
        unchanged=row.unchanged,
        failures=failures,
        verifier=VerifierReport(**json.loads(row.verifier)) if row.verifier else None,
    )
