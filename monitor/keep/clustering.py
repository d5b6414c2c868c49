"""Near-duplicates and stories for new items, with the in-memory indexes they need.

`cluster` is pure over the indexes it is given: it decides each item's `duplicate_of` (a near
copy of an earlier item, by MinHash; or, given the items' vectors, an edited copy MinHash misses,
by `StoryRule.is_copy` among the members of the stories it is compared with) and `story_id`
(the event it reports), oldest first, so a copy points at its original. `ClusterRun` does the
same for a cycle's items given in chunks, and `cluster_pending` feeds it from storage a chunk at
a time, so of a cycle's items only ids, dates and stories (a few dozen bytes each) are held at
once beside one chunk's texts. `load_indexes` rebuilds the indexes from storage (stored
signatures; no text is re-hashed for near-duplicates) over their windows. Vectors are the
judge's sentence vectors (`VectorLookup`, which may embed what it is asked for): only relevant
originals have them (a copy MinHash finds is never asked for, so never embedded), and the rest
are compared by their words alone.

Each item's text is folded once; its signature and its story features are both taken from that,
and the signatures and index searches of a chunk's originals are computed together (per item,
numpy's call overhead cost more than the work).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from monitor.keep.neardup import DEFAULT_WINDOW, NearDupIndex, Signature, signatures
from monitor.keep.stories import StoryIndex, StoryRule
from monitor.keep.story_features import StoryFeatures, extract_features
from monitor.keep.story_vectors import item_vector, lead_rows
from monitor.records import ClusterUpdate
from monitor.text.normalize import fold_text

CHUNK = 2000  # items loaded, clustered and saved at a time by `cluster_pending`


class Clusterable(Protocol):
    """What clustering reads of an item (a `StoredItem`, or the storage's lighter row)."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def text(self) -> str | None: ...
    @property
    def lang(self) -> str: ...
    @property
    def published_at(self) -> datetime: ...
    @property
    def duplicate_of(self) -> int | None: ...
    @property
    def story_id(self) -> int | None: ...


class ClusterSource(Protocol):
    def newest_clustered_at(self) -> datetime | None: ...
    def signatures_since(self, since: datetime) -> Iterable[tuple[int, bytes, datetime, int | None]]: ...
    def story_members_since(self, since: datetime) -> Iterable[Clusterable]: ...


class PendingStore(ClusterSource, Protocol):
    def pending_clusters(self) -> Sequence[tuple[int, datetime, bool]]: ...
    def items_to_cluster(self, ids: Sequence[int] | None = None) -> Sequence[Clusterable]: ...
    def save_clusters(self, updates: Sequence[ClusterUpdate], at: datetime) -> None: ...


@dataclass
class Indexes:
    neardup: NearDupIndex = field(default_factory=NearDupIndex)
    stories: StoryIndex = field(default_factory=StoryIndex)


Vectors = Mapping[int, NDArray[np.float32]]  # item id → its sentence vectors (`Judge.embed`, headline first)
VectorLookup = Callable[[Sequence[int]], Vectors]  # the stored vectors of those of these items that have them
_RESTORE_BATCH = 1000  # story members whose vectors are looked up at a time
_RESTORE_SIGNATURES = 4096  # signatures restored at a time (about 1 kB each while held)


def load_indexes(
    store: ClusterSource,
    window: timedelta = DEFAULT_WINDOW,
    story_rule: StoryRule | None = None,
    vectors: VectorLookup | None = None,
) -> Indexes:
    """The indexes as the stored items left them, over each window before the newest item
    (story members with their stored `vectors`, looked up a batch at a time)."""
    indexes = Indexes(NearDupIndex(window=window), StoryIndex(story_rule))
    newest = store.newest_clustered_at()
    if newest is None:
        return indexes
    signed = iter(store.signatures_since(newest - window))
    while rows := list(itertools.islice(signed, _RESTORE_SIGNATURES)):
        indexes.neardup.add_many([(i, Signature.from_bytes(data), at, root) for i, data, at, root in rows])
    members = iter(store.story_members_since(newest - indexes.stories.rule.window))
    while batch := list(itertools.islice(members, _RESTORE_BATCH)):
        found = vectors([i.id for i in batch]) if vectors is not None else {}
        for item in batch:
            features = _features(item, _body(item), None, found.get(item.id))
            indexes.stories.restore(item.id, item.story_id or item.id, features, item.published_at, item.duplicate_of)
    return indexes


def cluster(items: Sequence[Clusterable], indexes: Indexes, vectors: Vectors | None = None) -> list[ClusterUpdate]:
    """Each item's near-duplicate root and story, oldest published first; exact copies (which
    already have `duplicate_of`) join their original's story. With the items' `vectors`, edited
    copies MinHash misses are near-duplicates too, and stories link by vectors as well."""
    return ClusterRun(indexes).cluster(items, vectors)


class ClusterRun:
    """`cluster` for one cycle's items given in chunks. The results are those of one `cluster`
    call over them all when the chunks come in its order: originals before exact copies, oldest
    published first, items published at the same moment in one chunk (`is_reprint` decides
    between them). It remembers the stories of the cycle's originals, which exact copies join."""

    def __init__(self, indexes: Indexes) -> None:
        self.indexes = indexes
        self._story_of: dict[int, int] = {}

    def cluster(
        self, items: Sequence[Clusterable], vectors: Vectors | VectorLookup | None = None
    ) -> list[ClusterUpdate]:
        """`vectors`: the items' vectors, or what looks them up; either way only originals that
        MinHash finds no copy of are given theirs (a copy joins its root's story whatever its
        vectors say), so a lookup that embeds embeds no copy."""
        ordered = _in_order(items)
        folded = [fold_text(f"{i.title}\n{_body(i)}") for i in ordered]
        near = self._near_copies(ordered, folded)
        wanted = [i.id for i in ordered if i.duplicate_of is None and near.get(i.id, (None, None))[1] is None]
        found = _wanted_vectors(vectors, wanted)
        return [self._place(item, text, near, found.get(item.id)) for item, text in zip(ordered, folded, strict=True)]

    def _near_copies(
        self, ordered: Sequence[Clusterable], folded: Sequence[str]
    ) -> dict[int, tuple[Signature, int | None]]:
        """Each original's signature (none when too short) and the root it copies, if any."""
        originals = [(i, f) for i, f in zip(ordered, folded, strict=True) if i.duplicate_of is None]
        sigs = signatures([(f, i.lang) for i, f in originals])
        signed = [(i.id, sig, i.published_at) for (i, _), sig in zip(originals, sigs, strict=True) if sig is not None]
        roots = self.indexes.neardup.register_many(signed)
        return {item_id: (sig, root) for (item_id, sig, _), root in zip(signed, roots, strict=True)}

    def _place(
        self,
        item: Clusterable,
        folded: str,
        near: dict[int, tuple[Signature, int | None]],
        vector: NDArray[np.float32] | None,
    ) -> ClusterUpdate:
        stories, body = self.indexes.stories, _body(item)
        if item.duplicate_of is not None:
            story = self._story_of.get(item.duplicate_of) or stories.assign_features(
                item.id,
                _features(item, body, folded, vector),
                item.published_at,
                item.duplicate_of,
            )
            return ClusterUpdate(item.id, None, None, story or item.duplicate_of)
        features = _features(item, body, folded, vector)
        sig, root = near.get(item.id, (None, None))
        joined, copy_of = stories.place(item.id, features, item.published_at, root)
        root = root if root is not None else copy_of
        story = joined or (self._story_of.get(root) if root else None) or item.id
        self._story_of[item.id] = story
        new_story = (item.title, item.lang, item.published_at) if story == item.id else None
        return ClusterUpdate(item.id, None if sig is None else sig.to_bytes(), root, story, new_story)


def cluster_pending(
    store: PendingStore, cache: IndexCache, at: datetime, chunk: int = CHUNK, vectors: VectorLookup | None = None
) -> int:
    """Near-duplicates and stories of every item not clustered yet, `chunk` (or a few more) at a
    time, each chunk saved before the next is loaded (one chunk's texts in memory, however large
    the cycle), in `chunks_in_order`, so the results are those of clustering them all at once.
    The indexes are loaded only if there is work. With `vectors`, originals that have vectors
    are compared by them too (asked for after MinHash has found the chunk's copies). Returns how
    many items were clustered."""
    run: ClusterRun | None = None
    done = 0
    for ids in chunks_in_order(store.pending_clusters(), chunk):
        run = run or ClusterRun(cache.get(store, vectors))
        items = store.items_to_cluster(ids)
        store.save_clusters(run.cluster(items, vectors), at)
        done += len(items)
    return done


def chunks_in_order(pending: Iterable[tuple[int, datetime, bool]], size: int) -> list[list[int]]:
    """The ids of (id, published_at, exact copy) in chunks of `size` in `ClusterRun`'s order:
    originals before exact copies, oldest first; a chunk takes in the rest of the items of its
    last moment (and kind), whose order a reprint decides."""
    ordered = sorted(pending, key=lambda p: (p[2], p[1], p[0]))
    chunks: list[list[int]] = []
    for _, tied in groupby(ordered, key=lambda p: (p[2], p[1])):
        if not chunks or len(chunks[-1]) >= size:
            chunks.append([])
        chunks[-1] += [item_id for item_id, _, _ in tied]
    return chunks


# How a reprint names the outlet it copied: "来源：…", "据…消息", "转载自…", "Source: …". (A wire
# dateline, "(Reuters) -", is on the original too, so it tells nothing; nor does "据路透引述消息人士",
# "according to Reuters, citing sources", with which an original report opens too.)
_ATTRIBUTION = re.compile(
    r"(?:来源|來源|转载|轉載|转自|轉自)\s*[:：自]"
    r"|^\s*[据據][^，,。]{2,20}消息(?!人士)"  # 消息人士: "sources", whom an original cites too
    r"|(?:^|\n)\s*(?:source|reprinted from)\s*:",
    re.IGNORECASE,
)


def is_reprint(text: str) -> bool:
    """Whether a text says it was copied from another outlet: among items published at the same
    moment, the one that does not say so is taken as the original."""
    return bool(_ATTRIBUTION.search(text))


def _in_order(items: Sequence[Clusterable]) -> list[Clusterable]:
    """Originals before exact copies, oldest published first; among those published at the same
    moment, the ones that do not say they are reprints first, then in an order of their content
    (a hash of title and text: the id would be the order the sources happened to answer in, so
    the same news would make other roots and stories from one run to the next). Whether a text
    says it is a reprint, and its hash, are looked up only where there is such a tie."""
    ordered: list[Clusterable] = []
    by_id = sorted(items, key=lambda i: (i.duplicate_of is not None, i.published_at, i.id))
    for _, group in groupby(by_id, key=lambda i: (i.duplicate_of is not None, i.published_at)):
        tied = list(group)
        if len(tied) > 1:
            tied.sort(key=lambda i: (is_reprint(_body(i)), _content_order(i)))  # stable: by id where equal
        ordered += tied
    return ordered


def _content_order(item: Clusterable) -> bytes:
    return hashlib.blake2b(f"{item.title}\n{_body(item)}".encode(), digest_size=8).digest()


def _wanted_vectors(vectors: Vectors | VectorLookup | None, wanted: Sequence[int]) -> Vectors:
    if vectors is None or not wanted:
        return {}
    if callable(vectors):
        return vectors(wanted)
    return {item_id: vectors[item_id] for item_id in wanted if item_id in vectors}


def _features(item: Clusterable, body: str, folded: str | None, rows: NDArray[np.float32] | None) -> StoryFeatures:
    if rows is None:
        return extract_features(item.title, body, item.lang, folded)
    return extract_features(item.title, body, item.lang, folded, item_vector(rows), lead_rows(rows))


def _body(item: Clusterable) -> str:
    return item.text or item.summary


class IndexCache:
    """The indexes, loaded from storage on first use and kept up to date by `cluster` after."""

    def __init__(self) -> None:
        self._indexes: Indexes | None = None

    def get(self, store: ClusterSource, vectors: VectorLookup | None = None) -> Indexes:
        if self._indexes is None:
            self._indexes = load_indexes(store, vectors=vectors)
        return self._indexes
