"""What a digest says about a period: its items grouped by source, copies folded in.

Pure: takes stored items and source states, returns a `Digest`. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.models import SourceState, StoredItem


@dataclass(frozen=True, slots=True)
class DigestEntry:
    item: StoredItem
    source_name: str
    also_in: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SourceSection:
    source_id: str
    name: str
    entries: list[DigestEntry]


@dataclass(frozen=True, slots=True)
class Digest:
    title: str
    start: datetime
    end: datetime
    sections: list[SourceSection]
    failing: list[SourceState]

    @property
    def item_count(self) -> int:
        return sum(len(s.entries) for s in self.sections)

    @property
    def empty(self) -> bool:
        return self.item_count == 0


def build_digest(
    title: str,
    start: datetime,
    end: datetime,
    items: Sequence[StoredItem],
    copies: dict[int, list[StoredItem]],
    sources: Sequence[SourceState],
) -> Digest:
    """One entry per original relevant item of the period, grouped by source, newest first;
    copies of an item (any source) are listed with it, not repeated."""
    names = {s.id: s.name or s.id for s in sources}
    sections: dict[str, list[DigestEntry]] = {}
    for item in sorted(items, key=lambda i: i.published_at, reverse=True):
        if item.duplicate_of is not None or not item.relevant:
            continue
        others = sorted(
            {names.get(c.source_id, c.source_id) for c in copies.get(item.id, []) if c.source_id != item.source_id}
        )
        sections.setdefault(item.source_id, []).append(
            DigestEntry(item, names.get(item.source_id, item.source_id), others)
        )
    ordered = [
        SourceSection(sid, names.get(sid, sid), entries)
        for sid, entries in sorted(sections.items(), key=lambda kv: names.get(kv[0], kv[0]).lower())
    ]
    failing = [s for s in sources if s.last_status == "error"]
    return Digest(title, start, end, ordered, failing)
