"""Fitting the vector thresholds of `StoryRule` on labelled items, and their figures.

Labelled items are clustered as a poll cycle would (`clusters_of`), oldest first, each compared
only with the stories of its window. The edited-copy thresholds (`copy_*`) are chosen for the
best near-duplicate F1, then the vector-link thresholds (`vector_*`) for the best story F1 over
every pair of items, within and across languages (ties: the stricter setting, first in the grid). The cosine
background is fitted on the same items (it needs no labels).

`cross_validate` refits on all folds but one (grouped by event, `folds_by_group`'s dealing) and
clusters every item with that fit, keeping what the fold left out decides: its items' duplicate
links, and the item pairs of which it holds the first item (by fold number). Those figures are
the ones to trust; the fitted ones were scored on the items they were fitted on. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.judge.labels import LabelledItem, copy_root, event_of, ratio, roots
from monitor.keep.clustering import Indexes, cluster
from monitor.keep.stories import StoryIndex, StoryRule
from monitor.keep.story_vectors import fit_background, item_vector

ItemVectors = Mapping[str, NDArray[np.float32]]  # labelled item id → its texts' vectors (`embed_items`)

COPY_GRID: dict[str, list[Any]] = {  # strict first: a looser point must score higher to win
    "copy_terms": [0.7, 0.6, 0.5, 0.4],
    "copy_cos": [0.995, 0.99, 0.985, 0.98, 0.975, 0.97],
    "copy_gap": [dt.timedelta(days=d) for d in (1, 2)],
}
_LINKS: dict[str, list[Any]] = {
    "vector_gap": [dt.timedelta(days=d) for d in (1, 2, 3)],
    "vector_entities": [3, 2, 1],
    "vector_number_weight": [0.0, 0.5, 1.0],
}
VECTOR_GRIDS: list[dict[str, list[Any]]] = [  # the z-score in standard deviations, or anchored
    {"vector_anchored": [False], "vector_z": [None, 3.0, 2.5, 2.0, 1.5, 1.0], **_LINKS},
    {"vector_anchored": [True], "vector_z": [1.0, 0.8, 0.7, 0.6, 0.5, 0.4], **_LINKS},
]
_SWITCHES = frozenset({"vector_z", "copy_terms"})  # None turns their rule off


@dataclass(frozen=True)
class _Clusterable:
    """A labelled item as clustering reads a stored one."""

    id: int
    title: str
    summary: str
    text: str | None
    lang: str
    published_at: dt.datetime
    duplicate_of: int | None = None
    story_id: int | None = None


def clusterable(number: int, item: LabelledItem) -> _Clusterable:
    """A labelled item as clustering reads a stored one, under the id `number`."""
    published = dt.datetime.combine(item.published, dt.time(), tzinfo=dt.UTC)
    return _Clusterable(number, item.title, item.summary, item.body, item.lang, published)


@dataclass(frozen=True)
class Links:
    """What clustering decided of labelled items: duplicate links and stories, by item id."""

    duplicate_of: dict[str, str]
    story: dict[str, str]


def clusters_of(items: Sequence[LabelledItem], vectors: ItemVectors | None, rule: StoryRule | None = None) -> Links:
    """Near-duplicates and stories of labelled items as a poll cycle decides them."""
    numbered = [clusterable(n, i) for n, i in enumerate(items, 1)]
    ids = {n: i.id for n, i in enumerate(items, 1)}
    by_number = {n: vectors[i.id] for n, i in enumerate(items, 1) if vectors and i.id in vectors}
    duplicate_of, story = {}, {}
    for update in cluster(numbered, Indexes(stories=StoryIndex(rule)), by_number):
        if update.duplicate_of is not None:
            duplicate_of[ids[update.item_id]] = ids[update.duplicate_of]
        story[ids[update.item_id]] = str(update.story_id)
    return Links(duplicate_of, story)


@dataclass
class Counts:
    """Near-duplicate and story-pair counts, within languages and across them."""

    dup: Counter[str] = field(default_factory=Counter)  # hit, gold, right, found
    within: Counter[str] = field(default_factory=Counter)  # tp, fp, fn
    across: Counter[str] = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        self.dup.update(other.dup)
        self.within.update(other.within)
        self.across.update(other.across)

    def figures(self) -> dict[str, float | None]:
        both = self.within + self.across
        return {
            "dup_precision": ratio(self.dup["right"], self.dup["found"]),
            "dup_recall": ratio(self.dup["hit"], self.dup["gold"]),
            **_story_figures("story", self.within),
            **_story_figures("story_all", both),
            **_story_figures("story_across", self.across),
        }


def _story_figures(name: str, c: Counter[str]) -> dict[str, float | None]:
    return {f"{name}_precision": ratio(c["tp"], c["tp"] + c["fp"]), f"{name}_recall": ratio(c["tp"], c["tp"] + c["fn"])}


def count(
    items: Sequence[LabelledItem],
    links: Links,
    keep_item: Callable[[str], bool] = lambda _: True,
    keep_pair: Callable[[str, str], bool] = lambda _a, _b: True,
) -> Counts:
    """The counts of `labels.figures` (score.py's), over the items and pairs kept."""
    root = roots(items)
    ids = {i.id for i in items}

    def found_root(item_id: str) -> str:
        return copy_root(links.duplicate_of, ids, item_id)

    counts = Counts()
    for i in items:
        if not keep_item(i.id):
            continue
        if i.syndicate_of in ids:
            counts.dup["gold"] += 1
            counts.dup["hit"] += i.id in links.duplicate_of and found_root(i.id) == found_root(str(i.syndicate_of))
        if (copied := links.duplicate_of.get(i.id)) is not None:
            counts.dup["found"] += 1
            counts.dup["right"] += root[i.id] == root.get(copied)
    for a, b in itertools.combinations(sorted(items, key=lambda i: i.id), 2):
        if not keep_pair(a.id, b.id):
            continue
        gold = event_of(a, root) == event_of(b, root)
        same = links.story.get(a.id) is not None and links.story.get(a.id) == links.story.get(b.id)
        c = counts.within if a.family == b.family else counts.across
        c["tp"] += gold and same
        c["fp"] += same and not gold
        c["fn"] += gold and not same
    return counts


def _f1(p: float | None, r: float | None) -> float:
    return 2 * p * r / (p + r) if p and r else 0.0


def _grid(grid: Mapping[str, list[Any]]) -> Iterable[dict[str, Any]]:
    for values in itertools.product(*grid.values()):
        yield dict(zip(grid, values, strict=True))


def fit_rule(items: Sequence[LabelledItem], vectors: ItemVectors, base: StoryRule | None = None) -> StoryRule:
    """The rule with the copy and vector thresholds that score best on `items`."""
    rule = base or StoryRule()
    known = [i for i in items if i.id in vectors]
    root = roots(items)
    groups = [(event_of(i, root), root[i.id]) for i in known]
    background = fit_background([i.lang for i in known], [item_vector(vectors[i.id]) for i in known], groups)
    rule = dataclasses.replace(rule, background=background)

    def dup_score(candidate: StoryRule) -> tuple[float, float]:
        f = count(items, clusters_of(items, vectors, candidate)).figures()
        return _f1(f["dup_precision"], f["dup_recall"]), f["dup_precision"] or 0.0

    def story_score(candidate: StoryRule) -> tuple[float, float]:
        f = count(items, clusters_of(items, vectors, candidate)).figures()
        return _f1(f["story_all_precision"], f["story_all_recall"]), f["story_all_precision"] or 0.0

    rule = _best(rule, COPY_GRID, dup_score)
    fits = [_best(rule, grid, story_score) for grid in VECTOR_GRIDS]
    return max(fits, key=story_score)  # the first on a tie


def _best(
    rule: StoryRule, grid: Mapping[str, list[Any]], score: Callable[[StoryRule], tuple[float, float]]
) -> StoryRule:
    """The grid point scoring highest (F1, then precision); the first on a tie (the grids run
    from strict to loose, so a looser one must do better). A rule turned off is tried once."""
    best, best_score = rule, (-1.0, -1.0)
    tried: set[StoryRule] = set()
    for point in _grid(grid):
        off = {k: v for k, v in point.items() if k in _SWITCHES and v is None}
        candidate = dataclasses.replace(rule, **(off or point))
        if candidate in tried:
            continue
        tried.add(candidate)
        if (s := score(candidate)) > best_score:
            best, best_score = candidate, s
    return best


@dataclass
class FitReport:
    rule: StoryRule
    fitted: dict[str, float | None]
    cross_validated: dict[str, float | None]
    fold_rules: list[StoryRule]


def cross_validate(
    items: Sequence[LabelledItem], vectors: ItemVectors, folds: int = 5, base: StoryRule | None = None
) -> FitReport:
    """The fit on all items with its figures, and the figures of `folds` folds by event."""
    rule = fit_rule(items, vectors, base)
    fitted = count(items, clusters_of(items, vectors, rule)).figures()
    fold_of = _folds(items, folds)
    total, rules = Counts(), []
    for k in range(folds):
        train = [i for i in items if fold_of[i.id] != k]
        if not train or len(train) == len(items):
            continue
        fold_rule = fit_rule(train, vectors, base)
        rules.append(fold_rule)
        links = clusters_of(items, vectors, fold_rule)
        total.add(
            count(
                items,
                links,
                keep_item=lambda i, k=k: fold_of[i] == k,  # type: ignore[misc]
                keep_pair=lambda a, b, k=k: min(fold_of[a], fold_of[b]) == k,  # type: ignore[misc]
            )
        )
    return FitReport(rule, fitted, total.figures(), rules)


def _folds(items: Sequence[LabelledItem], folds: int) -> dict[str, int]:
    """Each item's fold: the events dealt largest first to the fold with fewest items."""
    root = roots(items)
    groups = Counter(event_of(i, root) for i in items)
    fold_of: dict[str, int] = {}
    sizes = [0] * folds
    for group, size in sorted(groups.items(), key=lambda gs: (-gs[1], gs[0])):
        k = sizes.index(min(sizes))
        fold_of[group] = k
        sizes[k] += size
    return {i.id: fold_of[event_of(i, root)] for i in items}
