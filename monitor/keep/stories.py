"""Story grouping: items that report one event in different words share a story id.

Items are compared by their names, numbers and terms (`monitor.keep.story_features`), all read from
the folded text, so traditional and simplified Chinese compare alike, and, where the caller gave
them, by their vectors (`monitor.keep.story_vectors`), the same rule for every pair of languages, with
thresholds fitted on labelled items (`monitor.pipeline.story_fit`).

`StoryRule` decides whether two items report one event. Its thresholds come from the dev set's
same-family pairs within 7 days (`bench/dedupe_eval.py` prints them): reports of different events
reach a term cosine of 0.23 (median 0.10), reports of one event mostly more than 0.3 (median 0.35,
15 of 19). Different events far outnumber same ones in a busy window, so the bar on terms alone
keeps a margin above them; names and a number in common are strong evidence (one such pair of
different events in the dev set, at 0.03), so with them 0.15 is enough. An item joins the story
of the best-scoring earlier item; a near copy joins the story of the item it copies.

Cost per item stays flat: candidate stories come from an inverted index on names and numbers that
keeps only the most recently updated stories per key, only the stories sharing the most (and the
rarest) keys are compared, each by its first and latest items, and stories without an item
within the window of the newest date are evicted. Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.keep.story_features import (
    ALIASES,
    StoryFeatures,
    cosine,
    extract_entities,
    extract_features,
    extract_numbers,
    family,
    overlaps,
    term_ids,
)
from monitor.keep.story_vectors import Background, language_pair

__all__ = [
    "ALIASES",
    "DEFAULT_WINDOW",
    "StoryFeatures",
    "StoryIndex",
    "StoryRule",
    "cosine",
    "extract_entities",
    "extract_features",
    "extract_numbers",
    "family",
    "overlaps",
    "term_ids",
]

DEFAULT_WINDOW = timedelta(days=7)
MAX_MEMBERS = 3  # items of a story an item is compared with: its first and its latest ones
MAX_COPY_MEMBERS = 32  # a story's latest items with vectors, each looked at for an edited copy
MAX_POSTING = 16  # stories kept per name or number: the most recently updated
MAX_NUMBERS_COUNTED = 3  # numbers in common that add to the vector evidence
MAX_CANDIDATES = 6  # stories compared per item: those sharing the most, and the rarest, keys


@dataclass(frozen=True, slots=True)
class StoryRule:
    """When two items, `gap` apart, report one event, and when one is an edited copy of the other.

    By their words, within a language family: terms alike (cosine ≥ `text_sim`), or somewhat
    alike (≥ `supported_sim`) with `min_entities` names and `min_numbers` numbers in common and
    within `supported_gap` (a topic's names and a year in common are weak evidence days apart:
    two events of one topic a week apart were one story through such a link, once the items of
    a moment no longer came in their file's order).
    Across families, where terms cannot be compared: within `cross_gap`, with `cross_entities`
    names and `cross_numbers` numbers in common.
    By their vectors (`monitor.keep.story_vectors`), the same rule for every pair of languages: within
    `vector_gap`, with `vector_entities` names and `vector_numbers` numbers in common, the cosine's
    z-score against unrelated items of that pair of languages (`background`) plus
    `vector_number_weight` per number in common (up to `MAX_NUMBERS_COUNTED`) reaches `vector_z`
    (`vector_anchored`: the cosine measured from the unrelated pairs' mean to the typical one of
    one event's reports instead, as the two are nearer across languages):
    one topic weeks apart, or two events of one day with nothing specific in common, do not pass.
    An edited copy (a near-duplicate MinHash misses: a rewritten headline, a cut paragraph):
    within `copy_gap`, one language family, term cosine ≥ `copy_terms` and a sentence of the
    headline and lead nearly the same (cosine ≥ `copy_cos`); separate reports of one event share
    the names but neither the wording nor a sentence.
    The vector and copy thresholds are fitted on labelled items (`monitor.pipeline.story_fit`).
    """

    window: timedelta = DEFAULT_WINDOW
    text_sim: float = 0.30
    supported_sim: float = 0.15
    supported_gap: timedelta = timedelta(days=2)
    min_entities: int = 2
    min_numbers: int = 1
    cross_language: bool = True
    cross_gap: timedelta = timedelta(days=2)
    cross_entities: int = 3
    cross_numbers: int = 2
    background: Background = field(default_factory=Background)
    # fitted on the 95 items of the two dev files (`bench/story_fit.py`); None turns a rule off
    vector_z: float | None = 0.8
    vector_gap: timedelta = timedelta(days=1)
    vector_entities: int = 3
    vector_numbers: int = 0
    vector_number_weight: float = 0.0
    vector_anchored: bool = True
    copy_terms: float | None = 0.5
    copy_cos: float = 0.98
    copy_gap: timedelta = timedelta(days=1)

    def score(self, a: StoryFeatures, b: StoryFeatures, gap: timedelta) -> float | None:
        """How strongly `a` and `b` report one event (higher is stronger), or None if they don't."""
        sim = cosine(a.terms, b.terms) if a.family == b.family else None
        return self.decide(a, b, gap, sim)

    def decide(self, a: StoryFeatures, b: StoryFeatures, gap: timedelta, sim: float | None) -> float | None:
        """`score` given the term cosine `sim` (None across families). Links by words score
        their term cosine (0 across families); links by vectors alone score less than 0.1."""
        if gap > self.window:
            return None
        by_words = self._by_words(a, b, gap, sim)
        return by_words if by_words is not None else self._by_vectors(a, b, gap)

    def is_copy(self, a: StoryFeatures, b: StoryFeatures, gap: timedelta, sim: float | None) -> bool:
        """Whether one is an edited copy of the other (`sim`: their term cosine, None across
        families)."""
        if self.copy_terms is None or sim is None or sim < self.copy_terms or gap > self.copy_gap:
            return False
        if a.sentences is None or b.sentences is None:
            return False
        return float((a.sentences @ b.sentences.T).max()) >= self.copy_cos

    def _by_words(self, a: StoryFeatures, b: StoryFeatures, gap: timedelta, sim: float | None) -> float | None:
        if sim is None:
            if not self.cross_language or gap > self.cross_gap:
                return None
            agree = (
                len(a.entities & b.entities) >= self.cross_entities and len(a.numbers & b.numbers) >= self.cross_numbers
            )
            return 0.0 if agree else None
        if sim >= self.text_sim:
            return sim
        if sim < self.supported_sim or gap > self.supported_gap:
            return None
        agree = len(a.entities & b.entities) >= self.min_entities and len(a.numbers & b.numbers) >= self.min_numbers
        return sim if agree else None

    def _by_vectors(self, a: StoryFeatures, b: StoryFeatures, gap: timedelta) -> float | None:
        if self.vector_z is None or gap > self.vector_gap or (a.family != b.family and not self.cross_language):
            return None
        if len(a.entities & b.entities) < self.vector_entities or len(a.numbers & b.numbers) < self.vector_numbers:
            return None
        cos = vector_cosine(a, b)
        if cos is None:
            return None
        z = self.background.z(cos, language_pair(a.family, b.family), self.vector_anchored)
        z += self.vector_number_weight * min(len(a.numbers & b.numbers), MAX_NUMBERS_COUNTED)
        return min(max(z, 0.0) / 100, 0.099) if z >= self.vector_z else None


def vector_cosine(a: StoryFeatures, b: StoryFeatures) -> float | None:
    """The cosine of two items' vectors, None unless both have one."""
    if a.vector is None or b.vector is None:
        return None
    return float(a.vector @ b.vector)


@dataclass(frozen=True, slots=True)
class _Member:
    """An item a new one is compared with: when, what, which, and the root it copies."""

    ts: float
    features: StoryFeatures
    item_id: int
    root_id: int


@dataclass(slots=True)
class _Story:
    story_id: int
    first: _Member
    latest: list[_Member]
    last_ts: float
    item_ids: list[int] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    copyable: list[_Member] = field(default_factory=list)  # its latest members with sentence vectors


class StoryIndex:
    """The stories of a time window; `assign` places each new item in one.

    A story's id is the id of its first item. Stories with no item within `rule.window` of the
    newest date seen are evicted, so memory and cost per item stay flat.
    """

    def __init__(self, rule: StoryRule | None = None) -> None:
        self.rule = rule or StoryRule()
        self._stories: dict[int, _Story] = {}
        self._story_of: dict[int, int] = {}
        self._postings: dict[str, dict[int, None]] = {}  # key → stories, least recently updated first
        self._expiry: list[tuple[float, int]] = []
        self._newest = float("-inf")

    def __len__(self) -> int:
        return len(self._stories)

    def assign(
        self,
        item_id: int,
        title: str,
        text: str,
        lang: str,
        published_at: datetime,
        duplicate_of: int | None = None,
        folded: str | None = None,
    ) -> int | None:
        """The story this item joins (an earlier item's id), or None when it starts its own
        (whose id is then `item_id`). A near copy (`duplicate_of`, the root `NearDupIndex`
        gave) joins its original's story. `folded`: see `extract_features`."""
        features = extract_features(title, text, lang, folded)
        return self.assign_features(item_id, features, published_at, duplicate_of)

    def assign_features(
        self, item_id: int, features: StoryFeatures, published_at: datetime, duplicate_of: int | None = None
    ) -> int | None:
        """`assign` for features already extracted."""
        return self.place(item_id, features, published_at, duplicate_of)[0]

    def place(
        self, item_id: int, features: StoryFeatures, published_at: datetime, duplicate_of: int | None = None
    ) -> tuple[int | None, int | None]:
        """`assign_features`, and the root of the earlier item this one is an edited copy of
        (`StoryRule.is_copy`; None when it is none, or when `duplicate_of` is given)."""
        ts = _timestamp(published_at)
        keys = features.index_keys()
        story, copy_of = None, None
        if duplicate_of is not None and duplicate_of in self._story_of:
            story = self._stories[self._story_of[duplicate_of]]
        if story is None:
            story, copy_of = self._best_story(features, keys, ts, find_copy=duplicate_of is None)
        joined = story.story_id if story is not None else None
        root = duplicate_of if duplicate_of is not None else copy_of
        member = _Member(ts, features, item_id, item_id if root is None else root)
        if story is None:
            story = self._stories[item_id] = _Story(item_id, member, [], ts)
            heapq.heappush(self._expiry, (ts, item_id))
        self._add_member(story, member, keys)
        if ts > self._newest:
            self._newest = ts
            self._evict(ts - self.rule.window.total_seconds())
        return joined, copy_of

    def restore(
        self,
        item_id: int,
        story_id: int,
        features: StoryFeatures,
        published_at: datetime,
        duplicate_of: int | None = None,
    ) -> None:
        """Put back an item already placed in `story_id` (rebuilding the index from storage),
        without deciding anew."""
        ts = _timestamp(published_at)
        member = _Member(ts, features, item_id, duplicate_of or item_id)
        story = self._stories.get(story_id)
        if story is None:
            story = self._stories[story_id] = _Story(story_id, member, [], ts)
            heapq.heappush(self._expiry, (ts, story_id))
        self._add_member(story, member, features.index_keys())
        if ts > self._newest:
            self._newest = ts
            self._evict(ts - self.rule.window.total_seconds())

    def _best_story(
        self, features: StoryFeatures, keys: set[str], ts: float, *, find_copy: bool = False
    ) -> tuple[_Story | None, int | None]:
        """The story of the best-scoring member of the candidate stories (the first on a tie),
        and the root of the earliest item it is an edited copy of (with `find_copy`). Term
        overlaps with all same-family members are counted in one numpy pass."""
        window = self.rule.window.total_seconds()
        candidates = self._candidates(keys, features)
        pairs = [
            (story, member, gap)
            for story in candidates
            for member in (story.first, *story.latest)
            if (gap := abs(ts - member.ts)) <= window
        ]
        same = [m.features.terms for _, m, _ in pairs if m.features.family == features.family]
        shared = iter(overlaps(features.terms, same))
        length = len(features.terms)
        floor = min(self.rule.text_sim, self.rule.supported_sim)  # below it, words say no
        by_words_only = features.vector is None or self.rule.vector_z is None
        best: tuple[float, _Story] | None = None
        for story, member, gap in pairs:
            sim = None
            if member.features.family == features.family:
                size = len(member.features.terms) * length
                sim = next(shared) / size**0.5 if size else 0.0
                if sim < floor and by_words_only:
                    continue
            score = self.rule.decide(features, member.features, timedelta(seconds=gap), sim)
            if score is not None and (best is None or score > best[0]):
                best = (score, story)
        copy = self._copy_of(features, candidates, ts) if find_copy else None
        return (None if best is None else best[1]), (None if copy is None else copy.root_id)

    def _copy_of(self, features: StoryFeatures, stories: list[_Story], ts: float) -> _Member | None:
        """The earliest item of these stories of which this one is an edited copy
        (`StoryRule.is_copy`): any of a story's latest members with vectors, not only those its
        story is decided by, since a copy's original may be the tenth report of a busy story."""
        if features.sentences is None or self.rule.copy_terms is None:
            return None
        reach = self.rule.copy_gap.total_seconds()
        members = [
            m
            for story in stories
            for m in story.copyable
            if m.features.family == features.family and abs(ts - m.ts) <= reach
        ]
        length, copy = len(features.terms), None
        for member, common in zip(members, overlaps(features.terms, [m.features.terms for m in members]), strict=True):
            size = len(member.features.terms) * length
            sim = common / size**0.5 if size else 0.0
            gap = timedelta(seconds=abs(ts - member.ts))
            if self.rule.is_copy(features, member.features, gap, sim):
                copy = member if copy is None or (member.ts, member.item_id) < (copy.ts, copy.item_id) else copy
        return copy

    def _candidates(self, keys: set[str], features: StoryFeatures | None = None) -> list[_Story]:
        """The stories sharing the most keys, a key counting more the fewer stories hold it (the
        oldest story first on a tie); with a vector, also the stories sharing a key whose first
        item's vector is nearest (a report in another language shares fewer keys). Keys are
        summed in sorted order: a set's order changes with the process's hash seed, and with it
        the rounding of the sums and the ties."""
        weights: dict[int, float] = {}
        weight, postings = weights.get, self._postings
        for key in sorted(keys):
            posting = postings.get(key)
            if posting:
                share = 1.0 / len(posting)
                for sid in posting:
                    weights[sid] = weight(sid, 0.0) + share
        best = sorted(weights, key=lambda sid: (-weights[sid], sid))[:MAX_CANDIDATES]
        vector = None if features is None else features.vector
        if vector is not None and len(weights) > MAX_CANDIDATES:
            near = [(sid, self._stories[sid].first.features.vector) for sid in weights]
            scored = sorted(((-float(vector @ v), sid) for sid, v in near if v is not None))
            best += [sid for _, sid in scored[:MAX_CANDIDATES] if sid not in best]
        return [self._stories[sid] for sid in best]

    def _add_member(self, story: _Story, member: _Member, keys: set[str]) -> None:
        sid, item_id, ts = story.story_id, member.item_id, member.ts
        story.item_ids.append(item_id)
        if story.item_ids[0] != item_id:
            story.latest = [*story.latest, member][-(MAX_MEMBERS - 1) :]
        if member.features.sentences is not None:
            story.copyable = [*story.copyable, member][-MAX_COPY_MEMBERS:]
        self._story_of[item_id] = sid
        story.keys.update(keys)
        for key in keys:
            posting = self._postings.get(key)
            if posting is None:
                posting = self._postings[key] = {}
            posting.pop(sid, None)
            posting[sid] = None  # the most recently updated last (a plain dict: iterated in order, compactly)
            if len(posting) > MAX_POSTING:
                del posting[next(iter(posting))]
        if ts > story.last_ts:
            story.last_ts = ts
            heapq.heappush(self._expiry, (ts, sid))

    def _evict(self, cutoff: float) -> None:
        while self._expiry and self._expiry[0][0] < cutoff:
            ts, sid = heapq.heappop(self._expiry)
            story = self._stories.get(sid)
            if story is None or story.last_ts != ts:
                continue  # a later item moved the story on
            del self._stories[sid]
            for item_id in story.item_ids:
                self._story_of.pop(item_id, None)
            for key in story.keys:
                posting = self._postings.get(key)
                if posting is not None:
                    posting.pop(sid, None)
                    if not posting:
                        del self._postings[key]


def _timestamp(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
