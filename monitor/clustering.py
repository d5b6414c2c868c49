"""Near-duplicates and stories for new items, with the in-memory indexes they need.

`cluster` is pure over the indexes it is given: it decides each item's `duplicate_of` (a near
copy of an earlier item, by MinHash) and `story_id` (the event it reports), oldest first, so a
copy points at its original. `load_indexes` rebuilds the indexes from storage (stored
signatures; no text is re-hashed for near-duplicates) over their windows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from monitor.models import ClusterUpdate, StoredItem
from monitor.neardup import DEFAULT_WINDOW, NearDupIndex, Signature, shingle_hashes, signature_of
from monitor.normalize import fold_text
from monitor.stories import StoryIndex, StoryRule, extract_features


class ClusterSource(Protocol):
    def newest_clustered_at(self) -> datetime | None: ...
    def signatures_since(self, since: datetime) -> list[tuple[int, bytes, datetime, int | None]]: ...
    def story_members_since(self, since: datetime) -> list[StoredItem]: ...


@dataclass
class Indexes:
    neardup: NearDupIndex = field(default_factory=NearDupIndex)
    stories: StoryIndex = field(default_factory=StoryIndex)


def load_indexes(
    store: ClusterSource, window: timedelta = DEFAULT_WINDOW, story_rule: StoryRule | None = None
) -> Indexes:
    """The indexes as the stored items left them, over each window before the newest item."""
    indexes = Indexes(NearDupIndex(window=window), StoryIndex(story_rule))
    newest = store.newest_clustered_at()
    if newest is None:
        return indexes
    for item_id, data, at, duplicate_of in store.signatures_since(newest - window):
        indexes.neardup.add(item_id, Signature.from_bytes(data), at, duplicate_of)
    for item in store.story_members_since(newest - indexes.stories.rule.window):
        features = extract_features(item.title, _body(item), item.lang)
        indexes.stories.restore(item.id, item.story_id or item.id, features, item.published_at)
    return indexes


def cluster(items: Sequence[StoredItem], indexes: Indexes) -> list[ClusterUpdate]:
    """Each item's near-duplicate root and story, oldest published first; exact copies (which
    already have `duplicate_of`) join their original's story."""
    updates: list[ClusterUpdate] = []
    story_of: dict[int, int] = {}
    ordered = sorted(items, key=lambda i: (i.duplicate_of is not None, i.published_at, is_reprint(_body(i)), i.id))
    for item in ordered:
        body = _body(item)
        folded = fold_text(f"{item.title}\n{body}")
        if item.duplicate_of is not None:
            story = story_of.get(item.duplicate_of) or indexes.stories.assign(
                item.id, item.title, body, item.lang, item.published_at, item.duplicate_of, folded
            )
            updates.append(ClusterUpdate(item.id, None, None, story or item.duplicate_of))
            continue
        sig = signature_of(shingle_hashes(folded, item.lang))
        root = None
        if sig is not None:
            root = indexes.neardup.query(sig)
            indexes.neardup.add(item.id, sig, item.published_at, root)
        joined = indexes.stories.assign(item.id, item.title, body, item.lang, item.published_at, root, folded)
        story = joined or (story_of.get(root) if root else None) or item.id
        story_of[item.id] = story
        new_story = (item.title, item.lang, item.published_at) if story == item.id else None
        updates.append(ClusterUpdate(item.id, sig.to_bytes() if sig else None, root, story, new_story))
    return updates


# How a reprint names the outlet it copied: "来源：…", "据…消息", "转载自…", "Source: …". (A wire
# dateline, "(Reuters) -", is on the original too, so it tells nothing.)
_ATTRIBUTION = re.compile(
    r"(?:来源|來源|转载|轉載|转自|轉自)\s*[:：自]"
    r"|^\s*[据據][^，,。]{2,20}消息"
    r"|(?:^|\n)\s*(?:source|reprinted from)\s*:",
    re.IGNORECASE,
)


def is_reprint(text: str) -> bool:
    """Whether a text says it was copied from another outlet: among items published at the same
    moment, the one that does not say so is taken as the original."""
    return bool(_ATTRIBUTION.search(text))


def _body(item: StoredItem) -> str:
    return item.text or item.summary


class IndexCache:
    """The indexes, loaded from storage on first use and kept up to date by `cluster` after."""

    def __init__(self) -> None:
        self._indexes: Indexes | None = None

    def get(self, store: ClusterSource) -> Indexes:
        if self._indexes is None:
            self._indexes = load_indexes(store)
        return self._indexes
