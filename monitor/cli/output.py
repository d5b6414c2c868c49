"""What every command does the same way: open the store, print JSON documents and UTC timestamps."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from monitor.config import Config
from monitor.judge.registry import Registry
from monitor.keep.claim_terms import claim_texts
from monitor.keep.relevance import TopicMatcher
from monitor.records import StoredItem
from monitor.storage import SqlRepository, open_database


def open_repository(config: Config, *, sync_sources: bool = False) -> SqlRepository:
    """The configured store (migrated to the current schema); `sync_sources` records the sources
    of the configuration first, for commands that show or poll them."""
    repo = SqlRepository(open_database(config.database_url))
    if sync_sources:
        repo.sync_sources(config.sources)
    return repo


def topic_matcher(config: Config, registry: Registry | None = None) -> TopicMatcher:
    """The topic, widened by the watched claims' own words (the config's, or `registry`'s)."""
    return TopicMatcher(config.topic, claim_texts((registry or config.registry).claims))


def print_json(doc: Any) -> None:
    """A JSON document on stdout, Chinese kept readable (not \\u-escaped)."""
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


def iso(when: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, or None."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None


def item_json(item: StoredItem, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """An item as `monitor items --json` shows it; `fields`: only these keys, in this order."""
    doc = {
        "id": item.id,
        "source": item.source_id,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "summary": item.summary,
        "published_at": iso(item.published_at),
        "fetched_at": iso(item.fetched_at),
        "date_note": item.date_note,
        "lang": item.lang,
        "duplicate_of": item.duplicate_of,
        "story_id": item.story_id,
        "relevant": item.relevant,
        "relevant_why": item.relevant_why,
        "article_status": item.article_status,
        "article_error": item.article_error,
        "text_chars": len(item.text or ""),
    }
    return doc if fields is None else {k: doc[k] for k in fields}
