"""Near-duplicate detection: a windowed LSH index over MinHash signatures (`monitor.keep.minhash`,
whose names are re-exported here).

An item whose text is a near copy of an earlier one (wire copy re-headlined on several sites, a
转载 reprint with a source line added) is found by the Jaccard similarity of its shingle set, as
estimated from the two signatures. With 256 values the estimate's standard error at J = 0.2 is
0.025.

Threshold, chosen on the labelled dev set (title + body, `bench/dedupe_eval.py` prints it):

    pairs                               English (word 3-sh.)   Chinese (char 4-grams)
    near copies (syndicate_of)          0.28 – 0.41            0.59 – 0.84
    same event, separate reports        ≤ 0.09                 ≤ 0.12
    unrelated, same topic               ≤ 0.04 (mean 0.002)    ≤ 0.02

The English copies were rewritten more than real wire copies are, so the gap is narrow there;
`THRESHOLD = 0.2` sits in both gaps, about 3 standard errors of the estimate from the nearest
pair on either side (estimated 0.28 for the loosest copy, 0.13 for the closest other pair);
synthetic copies of all 60 texts, edited up to a new headline, every tenth word changed and a
sentence cut (Jaccard down to 0.24), are all found.
Short texts are less trustworthy: shared names, numbers and dates make up more of them, so two
separate reports of one event reach 0.19 on headline + summary alone. Hence a guard: a text with
fewer than `MIN_SHINGLES` (50, about a paragraph) shingles gets no signature at all, and a pair in
which either text has fewer than `LONG_SHINGLES` (150) needs `SHORT_THRESHOLD` (0.35).

The index finds candidates by banding (64 bands of 2 values: a pair at J = 0.2 collides in some
band with probability 0.93, at 0.28 with 0.994, at J = 0.01 with 0.006) and verifies each by the
estimated Jaccard. datasketch's own `MinHashLSH` keeps ~15 kB of Python objects per item; here the
band keys live in sorted numpy runs merged like a log-structured tree (8 bytes per band entry) and
the in-memory signatures keep only the low 16 bits of each value (b-bit MinHash: a chance match
adds 2⁻¹⁶ to the estimate), about 1 kB per item in all, and a lookup costs O(log n) binary searches.
Entries older than the window are evicted.

A chunk's items are registered together (`register_many`): their bands are searched at once, and
their pairs among themselves found by one comparison, giving the roots `register` one at a time
would; per item, numpy's call overhead cost more than the work.

Pure: no I/O, no clock; times are passed in.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from monitor.keep.minhash import (
    BANDS,
    EN_SHINGLE_WORDS,
    MIN_SHINGLES,
    NUM_PERM,
    ROWS,
    SCHEME,
    SEED,
    ZH_SHINGLE_CHARS,
    Signature,
    band_keys,
    is_chinese,
    shingle_hashes,
    shingles,
    signature,
    signature_of,
    signatures,
    sorted_unique,
)

__all__ = [
    "BANDS",
    "DEFAULT_WINDOW",
    "EN_SHINGLE_WORDS",
    "LONG_SHINGLES",
    "MIN_SHINGLES",
    "NUM_PERM",
    "ROWS",
    "SCHEME",
    "SEED",
    "SHORT_THRESHOLD",
    "THRESHOLD",
    "ZH_SHINGLE_CHARS",
    "Match",
    "NearDupIndex",
    "Signature",
    "is_chinese",
    "shingle_hashes",
    "shingles",
    "signature",
    "signature_of",
    "signatures",
    "threshold_for",
]

LONG_SHINGLES = 150
THRESHOLD = 0.2
SHORT_THRESHOLD = 0.35
DEFAULT_WINDOW = timedelta(days=30)

_SHIFT = np.uint64(32)
_SLOT_MASK = np.uint64(0xFFFFFFFF)
_Sizes = NDArray[np.int32] | NDArray[np.int64]
_PART = 256  # signatures whose index search is done at once
_PAIRS = 4096  # candidate pairs compared at once: 2 MB of gathered signature rows


def _estimates(
    left: NDArray[np.uint16], rows: NDArray[np.intp], right: NDArray[np.uint16], other_rows: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Estimated Jaccard of row `rows[k]` of `left` and `other_rows[k]` of `right`, for each k;
    `_PAIRS` at a time, so the gathered rows stay small."""
    same = np.empty(len(rows), dtype=np.float64)
    for lo in range(0, len(rows), _PAIRS):
        hi = lo + _PAIRS
        same[lo:hi] = np.count_nonzero(left[rows[lo:hi]] == right[other_rows[lo:hi]], axis=1)
    return same / NUM_PERM


def threshold_for(a: int, b: int) -> float:
    """The Jaccard a pair of texts of `a` and `b` shingles must reach to be near copies."""
    return THRESHOLD if min(a, b) >= LONG_SHINGLES else SHORT_THRESHOLD


def _timestamp(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


class _BandTable:
    """Band key → slots. The newest items sit in a small matrix (one row of band keys per item)
    compared band by band; older ones in runs of sorted `key << 32 | slot` words, a newer run
    merged into the one before it once it is half that size (a log-structured merge), so a
    search is O(log n) binary searches and an entry costs 8 bytes. `version` changes whenever
    entries move or are purged."""

    def __init__(self, buffer_items: int = 256) -> None:
        self._rows = np.zeros((buffer_items, BANDS), dtype=np.uint32)
        self._row_slots = np.zeros(buffer_items, dtype=np.uint32)
        self._buffered = 0
        self._runs: list[NDArray[np.uint64]] = []
        self.version = 0

    def __len__(self) -> int:
        return self._buffered * BANDS + sum(len(run) for run in self._runs)

    def room(self) -> int:
        """Items that can be added before the matrix is flushed into a run."""
        return len(self._rows) - self._buffered

    def add(self, keys: NDArray[np.uint32], slot: int) -> None:
        self._rows[self._buffered] = keys
        self._row_slots[self._buffered] = slot
        self._buffered += 1
        if self._buffered == len(self._rows):
            self._flush()

    def lookup(self, keys: NDArray[np.uint32]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(query, slot) pairs: the slots sharing a band key with row `query` of `keys` (one
        row per query; repeats and stale slots included). All rows are searched at once."""
        queries: list[NDArray[np.intp]] = [np.empty(0, dtype=np.intp)]
        slots: list[NDArray[np.intp]] = [np.empty(0, dtype=np.intp)]
        if self._buffered:
            rows = self._rows[: self._buffered]
            query, row = np.nonzero((keys[:, None, :] == rows[None, :, :]).any(axis=2))
            queries.append(query)
            slots.append(self._row_slots[row].astype(np.intp))
        flat = keys.ravel()
        order = np.argsort(flat, kind="stable")
        low = flat[order].astype(np.uint64) << _SHIFT  # sorted needles: each search narrows the next
        for run in self._runs:
            at = np.searchsorted(run, low)
            hit = (run[np.minimum(at, len(run) - 1)] >> _SHIFT) == (low >> _SHIFT)
            if hit.any():
                ends = np.searchsorted(run, low[hit] | _SLOT_MASK, side="right")
                lengths = ends - at[hit]
                entries = np.repeat(ends - np.cumsum(lengths), lengths) + np.arange(int(lengths.sum()))
                queries.append(np.repeat(order[hit] // BANDS, lengths))
                slots.append((run[entries] & _SLOT_MASK).astype(np.intp))
        return np.concatenate(queries), np.concatenate(slots)

    def compact(self, live: NDArray[np.bool_]) -> None:
        """Merge everything into one run, dropping entries whose slot is not live."""
        self._flush()
        self.version += 1
        if self._runs:
            merged = self._merge(self._runs)
            self._runs = [merged[live[merged & _SLOT_MASK]]]

    def add_many(self, keys: NDArray[np.uint32], slots: NDArray[np.intp]) -> None:
        """`add` each row of `keys` with its slot: in one run, sorted once, rather than through
        the matrix a few hundred at a time."""
        self._flush()
        if len(keys):
            self._push(keys, slots)

    def _flush(self) -> None:
        if not self._buffered:
            return
        n, self._buffered = self._buffered, 0
        self._push(self._rows[:n], self._row_slots[:n])

    def _push(self, rows: NDArray[np.uint32], slots: NDArray[np.uint32] | NDArray[np.intp]) -> None:
        """A run of these rows' entries, merged into the runs before it (see the class docstring)."""
        self.version += 1
        keys = rows.ravel().astype(np.uint64) << _SHIFT
        run = np.sort(keys | np.repeat(slots, BANDS).astype(np.uint64))
        while self._runs and len(self._runs[-1]) <= 2 * len(run):
            run = self._merge([self._runs.pop(), run])
        self._runs.append(run)

    @staticmethod
    def _merge(runs: list[NDArray[np.uint64]]) -> NDArray[np.uint64]:
        merged = np.concatenate(runs)
        merged.sort(kind="stable")  # timsort: sorted runs merge in linear time, in place
        return merged


@dataclass(frozen=True, slots=True)
class Match:
    """The earliest indexed item a signature nearly copies, that item's root, and the estimate."""

    item_id: int
    root_id: int
    jaccard: float


@dataclass(frozen=True, slots=True)
class _Batch:
    """Signatures searched together: their band keys, low 16 bits and sizes, one row each."""

    keys: NDArray[np.uint32]
    low: NDArray[np.uint16]
    sizes: NDArray[np.int64]

    @classmethod
    def of(cls, sigs: Sequence[Signature]) -> _Batch:
        values = np.stack([s.values for s in sigs])
        sizes = np.fromiter((s.size for s in sigs), dtype=np.int64, count=len(sigs))
        return cls(band_keys(values), values.astype(np.uint16), sizes)


class NearDupIndex:
    """Signatures of the items of a time window, searchable for near copies.

    `add` each item once, with the root it copies if any; `query` gives the root of the
    earliest near copy; `register_many` does both for many items in turn, searching for their
    candidates together. Entries older than `window` before the newest `at` added are evicted
    (or call `evict_before`). Per-item cost does not grow with the number of items indexed.
    """

    def __init__(self, window: timedelta = DEFAULT_WINDOW, threshold: float = THRESHOLD) -> None:
        self.window = window
        self.threshold = threshold
        self._bands = _BandTable()
        self._sigs = np.zeros((0, NUM_PERM), dtype=np.uint16)
        self._sizes = np.zeros(0, dtype=np.int32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._roots = np.zeros(0, dtype=np.int64)
        self._ats = np.zeros(0, dtype=np.float64)
        self._live = np.zeros(0, dtype=np.bool_)
        self._free: list[int] = []
        self._freed: list[int] = []  # evicted slots whose band entries are not yet purged
        self._expiry: list[tuple[float, int]] = []
        self._newest = float("-inf")
        self._count = 0
        self._high = 0  # slots ever handed out

    def __len__(self) -> int:
        return self._count

    def add(self, item_id: int, sig: Signature, at: datetime, duplicate_of: int | None = None) -> None:
        """Index an item's signature; `duplicate_of` is the root it copies (from `query`)."""
        self._add(item_id, sig, at, duplicate_of, sig.band_keys())

    def add_many(self, entries: Sequence[tuple[int, Signature, datetime, int | None]]) -> None:
        """`add` each (id, signature, published, duplicate_of), oldest first: the same index, in
        a few numpy calls rather than a dozen per item (a start restores a window of tens of
        thousands: 1.2 s of 1.9 s at 100k stored items, one by one)."""
        if not entries:
            return
        batch = _Batch.of([sig for _, sig, _, _ in entries])
        ids = np.array([item_id for item_id, _, _, _ in entries], dtype=np.int64)
        roots = np.array([item_id if root is None else root for item_id, _, _, root in entries], dtype=np.int64)
        ats = np.array([_timestamp(at) for _, _, at, _ in entries], dtype=np.float64)
        slots = self._take_slots(len(entries))
        self._sigs[slots], self._sizes[slots], self._ids[slots] = batch.low, batch.sizes, ids
        self._roots[slots], self._ats[slots], self._live[slots] = roots, ats, True
        self._count += len(entries)
        self._bands.add_many(batch.keys, slots)
        self._expiry.extend(zip(ats.tolist(), slots.tolist(), strict=True))
        heapq.heapify(self._expiry)
        newest = float(ats.max())
        if newest > self._newest:
            self._newest = newest
            self._evict(newest - self.window.total_seconds())

    def match(self, sig: Signature) -> Match | None:
        """The earliest indexed item whose estimated Jaccard with `sig` reaches the threshold."""
        found = self._indexed_candidates(_Batch.of([sig])).get(0)
        if found is None:
            return None
        slots, estimates = found
        best = int(np.lexsort((self._ids[slots], self._ats[slots]))[0])
        slot = int(slots[best])
        return Match(int(self._ids[slot]), int(self._roots[slot]), float(estimates[best]))

    def query(self, sig: Signature) -> int | None:
        """The root id of the earliest near copy of `sig` in the index, or None."""
        found = self.match(sig)
        return None if found is None else found.root_id

    def register(self, item_id: int, sig: Signature, at: datetime) -> int | None:
        """Query, then add: the root this item copies (its `duplicate_of`), or None."""
        return self.register_many([(item_id, sig, at)])[0]

    def register_many(self, entries: Sequence[tuple[int, Signature, datetime]]) -> list[int | None]:
        """`register` each (id, signature, published) in turn: the same roots, but the band
        search for up to `_PART` of them is done at once, and their pairs among themselves
        found by one comparison, rather than a dozen numpy calls per item."""
        roots: list[int | None] = []
        while len(roots) < len(entries):
            size = max(1, min(_PART, self._bands.room()))
            roots += self._register_part(entries[len(roots) : len(roots) + size])
        return roots

    def _register_part(self, part: Sequence[tuple[int, Signature, datetime]]) -> list[int | None]:
        """Register items in turn until the band table reorganises. Until then, the candidates
        searched at the start stay valid: slots are reused only after a compaction."""
        batch = _Batch.of([sig for _, sig, _ in part])
        earlier = self._indexed_candidates(batch)
        within = self._candidates_within(batch)
        version = self._bands.version
        roots: list[int | None] = []
        slots: list[int] = []
        for n, (item_id, sig, at) in enumerate(part):
            found = [slots[i] for i in within.get(n, ())]
            if n in earlier:
                found.extend(earlier[n][0].tolist())
            root = self._earliest_root(found) if found else None
            slots.append(self._add(item_id, sig, at, root, batch.keys[n]))
            roots.append(root)
            if self._bands.version != version:
                break
        return roots

    def _earliest_root(self, found: list[int]) -> int | None:
        slots = np.sort(np.array(found, dtype=np.intp))  # distinct already
        slots = slots[self._live[slots]]
        if not len(slots):
            return None
        return int(self._roots[slots[np.lexsort((self._ids[slots], self._ats[slots]))[0]]])

    def _indexed_candidates(self, batch: _Batch) -> dict[int, tuple[NDArray[np.intp], NDArray[np.float64]]]:
        """Per row of the batch with any: the live indexed slots it nearly copies (sorted),
        with the estimates."""
        queries, slots = self._bands.lookup(batch.keys)
        pairs = sorted_unique((queries.astype(np.uint64) << _SHIFT) | slots.astype(np.uint64))
        queries, slots = (pairs >> _SHIFT).astype(np.intp), (pairs & _SLOT_MASK).astype(np.intp)
        live = self._live[slots]
        queries, slots = queries[live], slots[live]
        estimates = _estimates(batch.low, queries, self._sigs, slots)
        ok = self._near(estimates, batch.sizes[queries], self._sizes[slots])
        queries, slots, estimates = queries[ok], slots[ok], estimates[ok]
        if not len(queries):
            return {}
        cuts = np.flatnonzero(np.diff(queries)) + 1
        firsts = queries[np.concatenate(([0], cuts))].tolist()
        return dict(zip(firsts, zip(np.split(slots, cuts), np.split(estimates, cuts), strict=True), strict=True))

    def _candidates_within(self, batch: _Batch) -> dict[int, list[int]]:
        """Per row of the batch: the earlier rows it nearly copies (they sit in the band table's
        matrix when it is searched, so a band is compared with the same band only)."""
        shared = np.triu((batch.keys[:, None, :] == batch.keys[None, :, :]).any(axis=2), 1)
        earlier, later = np.nonzero(shared)
        estimates = _estimates(batch.low, earlier, batch.low, later)
        ok = self._near(estimates, batch.sizes[earlier], batch.sizes[later])
        within: dict[int, list[int]] = {}
        for i, j in zip(earlier[ok].tolist(), later[ok].tolist(), strict=True):
            within.setdefault(j, []).append(i)
        return within

    def _near(self, estimates: NDArray[np.float64], a: _Sizes, b: _Sizes) -> NDArray[np.bool_]:
        """Which pairs are near copies: `threshold_for` their sizes, never below `threshold`."""
        needed = np.where(np.minimum(a, b) >= LONG_SHINGLES, self.threshold, SHORT_THRESHOLD)
        return estimates >= np.maximum(needed, self.threshold)

    def _add(
        self, item_id: int, sig: Signature, at: datetime, duplicate_of: int | None, keys: NDArray[np.uint32]
    ) -> int:
        ts = _timestamp(at)
        slot = self._take_slot()
        self._sigs[slot] = sig.values.astype(np.uint16)  # low 16 bits (b-bit MinHash)
        self._sizes[slot] = sig.size
        self._ids[slot] = item_id
        self._roots[slot] = item_id if duplicate_of is None else duplicate_of
        self._ats[slot] = ts
        self._live[slot] = True
        self._count += 1
        self._bands.add(keys, slot)
        heapq.heappush(self._expiry, (ts, slot))
        if ts > self._newest:
            self._newest = ts
            self._evict(ts - self.window.total_seconds())
        return slot

    def evict_before(self, at: datetime) -> int:
        """Drop the entries dated before `at`; how many were dropped."""
        return self._evict(_timestamp(at))

    def _evict(self, cutoff: float) -> int:
        dropped = 0
        while self._expiry and self._expiry[0][0] < cutoff:
            ts, slot = heapq.heappop(self._expiry)
            if self._live[slot] and self._ats[slot] == ts:
                self._live[slot] = False
                self._freed.append(slot)
                self._count -= 1
                dropped += 1
        if len(self._freed) > max(self._count, 1024):
            self._bands.compact(self._live)
            self._free.extend(self._freed)
            self._freed = []
        return dropped

    def _take_slot(self) -> int:
        if self._free:
            return self._free.pop()
        if self._high == len(self._live):
            self._grow(max(1024, 2 * len(self._live)))
        self._high += 1
        return self._high - 1

    def _take_slots(self, count: int) -> NDArray[np.intp]:
        """`count` slots: freed ones first, as `_take_slot` hands them out."""
        reused = [self._free.pop() for _ in range(min(count, len(self._free)))]
        fresh = count - len(reused)
        if self._high + fresh > len(self._live):
            self._grow(max(1024, 2 * len(self._live), self._high + fresh))
        self._high += fresh
        return np.array([*reused, *range(self._high - fresh, self._high)], dtype=np.intp)

    def _grow(self, capacity: int) -> None:
        extra = capacity - len(self._live)
        self._sigs = np.concatenate((self._sigs, np.zeros((extra, NUM_PERM), dtype=np.uint16)))
        self._sizes = np.concatenate((self._sizes, np.zeros(extra, dtype=np.int32)))
        self._ids = np.concatenate((self._ids, np.zeros(extra, dtype=np.int64)))
        self._roots = np.concatenate((self._roots, np.zeros(extra, dtype=np.int64)))
        self._ats = np.concatenate((self._ats, np.zeros(extra, dtype=np.float64)))
        self._live = np.concatenate((self._live, np.zeros(extra, dtype=np.bool_)))
