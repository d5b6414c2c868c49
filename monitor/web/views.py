"""What the pages and their JSON twins show, from domain records. Pure, no I/O.

Each page's template and its `/api/` twin are rendered from the same document (a dict of
JSON-ready values), so the two cannot drift apart: the template adds layout, never data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.judge.standing import Standing
from monitor.records import DeliveryRecord, DigestRecord, StoredFlag, StoredItem, StoredStory, Verification
from monitor.tell.render import safe_url
from monitor.tell.status import SourceHealth
from monitor.text.normalize import HAN, fold_text

RELATIONS = ("supports", "contradicts", "updates")
_QUERY_JUNK = re.compile(r"[\"'*^():{}\[\]+\-]")


def iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None


def item_doc(item: StoredItem) -> dict[str, Any]:
    """An item as the pages show it; `link` is the item's URL only when it is http(s)."""
    return {
        "id": item.id,
        "source": item.source_id,
        "title": item.title,
        "summary": item.summary,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "link": safe_url(item.canonical_url) or safe_url(item.url),
        "published_at": iso(item.published_at),
        "lang": item.lang,
        "duplicate_of": item.duplicate_of,
        "story_id": item.story_id,
        "relevant": item.relevant,
        "relevant_why": item.relevant_why,
    }


def verification_doc(v: Verification | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"status": v.status, "model": v.model, "at": iso(v.at), "reason": v.reason, "confidence": v.confidence}


def flag_doc(flag: StoredFlag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "claim_id": flag.claim_id,
        "relation": flag.relation,
        "score": round(flag.score, 4),
        "evidence": flag.evidence,
        "why": flag.why,
        "state": flag.state,
        "note": flag.note,
        "created_at": iso(flag.created_at),
        "reviewed_at": iso(flag.reviewed_at),
        "outlets": list(flag.sources),
        "item": item_doc(flag.item),
        "verification": verification_doc(flag.verification),
    }


def last_change(standing: Standing) -> datetime | None:
    """When the claim's standing last moved: its newest flag raised or reviewed."""
    moments = [m for f in standing.timeline for m in (f.created_at, f.reviewed_at) if m is not None]
    return max(moments, default=None)


def claim_row(standing: Standing) -> dict[str, Any]:
    claim, latest = standing.claim, standing.latest
    return {
        "id": claim.id,
        "article_id": claim.article_id,
        "text": claim.text,
        "quote": claim.quote,
        "status": standing.status,
        "counts": {r: standing.counts.get(r, 0) for r in RELATIONS},
        "last_change": iso(last_change(standing)),
        "latest": None if latest is None else _latest(latest),
    }


def _latest(flag: StoredFlag) -> dict[str, Any]:
    return {"flag": flag.id, "relation": flag.relation, "title": flag.item.title}


def claim_page(standing: Standing, dismissed: Sequence[StoredFlag]) -> dict[str, Any]:
    """A claim with its timeline (oldest first) and, apart, the flags a reviewer dismissed."""
    return {
        **claim_row(standing),
        "timeline": [flag_doc(f) for f in standing.timeline],
        "dismissed": [flag_doc(f) for f in dismissed],
    }


def review_queue(flags: Sequence[StoredFlag]) -> list[StoredFlag]:
    """New flags, best first: the highest score, then the newest item."""
    waiting = [f for f in flags if f.state == "new"]
    return sorted(waiting, key=lambda f: (-f.score, -f.item.published_at.timestamp(), f.id))


def source_doc(health: SourceHealth) -> dict[str, Any]:
    return {
        "id": health.id,
        "name": health.name,
        "enabled": health.enabled,
        "state": health.state,
        "consecutive_errors": health.consecutive_errors,
        "last_polled_at": iso(health.last_polled_at),
        "last_success_at": iso(health.last_success_at),
        "last_error": health.last_error,
        "last_error_at": iso(health.last_error_at),
        "next_poll_at": iso(health.next_poll_at),
        "items": health.items,
    }


def story_doc(story: StoredStory) -> dict[str, Any]:
    return {
        "id": story.id,
        "title": story.title,
        "lang": story.lang,
        "first_seen_at": iso(story.first_seen_at),
        "latest_at": iso(story.latest_at),
        "outlets": list(story.outlets),
        "items": [item_doc(i) for i in story.items],
    }


def digest_doc(record: DigestRecord, deliveries: dict[str, DeliveryRecord] | None = None) -> dict[str, Any]:
    return {
        "id": record.id,
        "period_start": iso(record.period_start),
        "period_end": iso(record.period_end),
        "items": record.item_count,
        "created_at": iso(record.created_at),
        "deliveries": {
            channel: {"status": d.status, "delivered_at": iso(d.delivered_at), "error": d.last_error}
            for channel, d in (deliveries or {}).items()
        },
    }


# -- search ---------------------------------------------------------------------------------


def spaced(folded: str) -> str:
    """Every Han character a word of its own: the index's tokenizer splits on spaces and
    punctuation, and Chinese has neither between words, so a word is found as a phrase of
    its characters, anywhere in the text."""
    return HAN.sub(r" \g<0> ", folded)


def search_document(item: StoredItem) -> tuple[str, str]:
    """What the search index holds of an item: its title and its text, folded and spaced."""
    return spaced(fold_text(item.title)), spaced(fold_text(f"{item.summary}\n{item.text or ''}"))


def search_query(query: str) -> tuple[str, list[str]] | None:
    """An FTS5 query (every word, as a phrase, must appear) and the folded words themselves
    (the substring fallback's), from what a reader typed; None when nothing is left to find."""
    words = [w for w in _QUERY_JUNK.sub(" ", fold_text(query)).split() if w]
    if not words:
        return None
    phrases = [" ".join(spaced(w).split()) for w in words]
    return " AND ".join(f'"{p}"' for p in phrases), words
