"""The Atom feed of claim changes and digests: what a feed reader shows, newest first.

Entry ids are stable across runs and databases (UUIDv5 of what the entry is about: the claim
and the item's source and guid; the digest's period), so a reader never sees an entry twice.
Dismissed flags leave the feed. Pure: records in, a `Feed` out. No I/O.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor.judge import Claim
from monitor.records import DigestRecord, StoredFlag
from monitor.tell.build import RELATION_ORDER, html_lang

FEED_FILE = "feed.atom"


def stable_id(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'claim-monitor:' + ':'.join(str(p) for p in parts))}"


@dataclass(frozen=True, slots=True)
class FlagNews:
    id: str
    updated: datetime
    flag: StoredFlag
    outlets: tuple[str, ...]
    text: str | None  # the claim
    quote: str | None  # the article's words for it
    quote_lang: str | None
    kind: str = "flag"


@dataclass(frozen=True, slots=True)
class DigestNews:
    id: str
    updated: datetime
    record: DigestRecord
    file: str | None  # the Markdown file's name, beside the feed
    changes: tuple[tuple[str, str, int], ...]  # (claim id, relation, flags) raised in its period
    kind: str = "digest"


@dataclass(frozen=True, slots=True)
class Feed:
    id: str
    title: str
    updated: datetime
    entries: tuple[FlagNews | DigestNews, ...]


def build_feed(
    title: str,
    now: datetime,
    *,
    flags: Sequence[StoredFlag],
    digests: Sequence[DigestRecord],
    claims: Sequence[Claim],
    names: Mapping[str, str],
    feed_dir: Path,
    max_flags: int = 100,
    max_digests: int = 60,
) -> Feed:
    """The newest `max_flags` non-dismissed flags and `max_digests` digests, newest first."""
    specs = {c.id: c for c in claims}
    live = [f for f in flags if f.state != "dismissed"]
    newest = sorted(live, key=lambda f: (f.created_at, f.id), reverse=True)[:max_flags]
    entries: list[FlagNews | DigestNews] = [flag_news(f, specs.get(f.claim_id), names) for f in newest]
    for record in sorted(digests, key=lambda d: (d.period_end, d.id), reverse=True)[:max_digests]:
        entries.append(digest_news(record, live, feed_dir))
    entries.sort(key=lambda e: e.updated, reverse=True)
    updated = max((e.updated for e in entries), default=now)
    return Feed(stable_id("feed", title), title, updated, tuple(entries))


def flag_news(flag: StoredFlag, spec: Claim | None, names: Mapping[str, str]) -> FlagNews:
    item = flag.item
    updated = max(flag.created_at, flag.reviewed_at or flag.created_at)
    return FlagNews(
        id=stable_id("flag", flag.claim_id, item.source_id, item.guid),
        updated=updated,
        flag=flag,
        outlets=tuple(names.get(s, s) for s in flag.sources),
        text=spec.text if spec else None,
        quote=spec.quote if spec else None,
        quote_lang=html_lang(spec.article_language) if spec else None,
    )


def digest_news(record: DigestRecord, flags: Sequence[StoredFlag], feed_dir: Path) -> DigestNews:
    counts = Counter((f.claim_id, f.relation) for f in flags if record.period_start <= f.created_at < record.period_end)
    changes = sorted(
        ((claim, relation, n) for (claim, relation), n in counts.items()),
        key=lambda c: (RELATION_ORDER.get(c[1], 9), c[0]),
    )
    path = Path(record.path) if record.path else None
    return DigestNews(
        id=stable_id("digest", record.period_start.isoformat(), record.period_end.isoformat()),
        updated=record.created_at,
        record=record,
        file=path.name if path is not None and path.parent == feed_dir else None,
        changes=tuple(changes),
    )
