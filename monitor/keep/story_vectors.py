"""Item vectors for near-duplicates and stories: what an item is about, in any language.

The judge embeds every relevant item's first sentences, headline first (`Judge.embed`, stored
once in `item_vector`); stories reuse them rather than embed again (an embedding costs ~20 ms a
sentence here, the whole story step must stay far below that). An item's story vector is the
normalised mean of its first `LEAD_TEXTS` rows (headline and lead: what a report is about;
later sentences drift to background), and those rows are what an edited copy is recognised by.
multilingual-e5 puts an English and a Chinese report of one event near each other, but not as
near as two reports in one language: cosines across languages run about 0.05 lower for every
kind of pair. So a cosine is read against the cosines of unrelated items of the same pair of
languages (`Background`: their mean and spread, fitted on any items, no labels needed) as a
z-score, and one threshold on it serves every pair of languages. Pure: no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.keep.story_features import family

LEAD_TEXTS = 4  # the headline and the first three sentences


def lead_rows(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """The headline's and lead sentences' rows of an item's sentence vectors, normalised (they
    may come back from float16 storage)."""
    lead = np.asarray(rows[:LEAD_TEXTS], dtype=np.float32)
    norms = np.linalg.norm(lead, axis=1, keepdims=True)
    unit: NDArray[np.float32] = (lead / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return unit


def item_vector(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """The normalised mean of an item's lead rows (`lead_rows`)."""
    mean = lead_rows(rows).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    unit: NDArray[np.float32] = (mean / norm if norm else mean).astype(np.float32)
    return unit


def language_pair(a: str, b: str) -> str:
    """ "en-en", "en-zh" or "zh-zh": the language families of two items, in order."""
    return "-".join(sorted((family(a), family(b))))


@dataclass(frozen=True, slots=True)
class Background:
    """Per `language_pair`: the mean and spread of the cosines of unrelated items, and the
    typical cosine of two separate reports of one event (None where not fitted). The defaults
    were fitted on the 95 items of the two dev files (4,465 pairs, nearly all of different
    events: the second file holds the first's 60 items)."""

    pairs: tuple[tuple[str, float, float, float | None], ...] = (
        ("en-en", 0.8897, 0.0347, 0.9726),
        ("en-zh", 0.8662, 0.0255, 0.8992),
        ("zh-zh", 0.914, 0.0236, 0.9741),
    )

    def z(self, cos: float, pair: str, anchored: bool = False) -> float:
        """How far above the unrelated pairs' mean a cosine is: in their standard deviations,
        or (`anchored`) as a share of the way from it to the typical cosine of one event's
        reports, where that was fitted."""
        for key, mean, sd, same in self.pairs:
            if key == pair:
                return (cos - mean) / (same - mean if anchored and same is not None and same > mean else sd)
        return (cos - 0.9) / 0.03


def fit_background(
    families: Sequence[str], vectors: Sequence[NDArray[np.float32]], events: Sequence[tuple[str, str]] | None = None
) -> Background:
    """`Background` of these items: every pair's cosine, median and standard deviation per
    language pair (the median, since some pairs are related); with each item's (event, original),
    the median cosine of separate reports of one event (copies left out) where there are five."""
    matrix = np.stack(vectors)
    cos = matrix @ matrix.T
    found: dict[str, list[float]] = {}
    same: dict[str, list[float]] = {}
    for i, j in itertools.combinations(range(len(families)), 2):
        key = language_pair(families[i], families[j])
        found.setdefault(key, []).append(float(cos[i, j]))
        if events is not None and events[i][0] == events[j][0] and events[i][1] != events[j][1]:
            same.setdefault(key, []).append(float(cos[i, j]))
    pairs = []
    for key, mean, sd, typical in Background().pairs:
        values = np.array(found.get(key, []))
        if len(values) >= 10:
            mean, sd = round(float(np.median(values)), 4), round(float(values.std()), 4)
        if events is not None:
            reports = same.get(key, [])
            typical = round(float(np.median(reports)), 4) if len(reports) >= 5 else None
        pairs.append((key, mean, sd, typical))
    return Background(tuple(pairs))
