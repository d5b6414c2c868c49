"""Item vectors for near-duplicates and stories: what an item is about, in any language.

An item's vector is the normalised mean of the encoder's vectors of its headline and its first
`LEAD_SENTENCES` sentences (NFKC, Chinese in simplified script, so a traditional copy reads as
its original). multilingual-e5 puts an English and a Chinese report of one event near each
other, but not as near as two reports in one language: cosines across languages run about 0.05
lower for every kind of pair. So a cosine is read against the cosines of unrelated items of the
same pair of languages (`Background`: their mean and spread, fitted on any items, no labels
needed) as a z-score, and one threshold on it serves every pair of languages.

`embed_items` calls the encoder it is given; the rest is pure: no I/O.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from monitor.normalize import to_simplified
from monitor.story_features import family


class Embedder(Protocol):
    """What `embed_items` needs of an encoder (`monitor.judge.encoder.Encoder` is one)."""

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


LEAD_SENTENCES = 3
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
_HAN = re.compile(r"[\u3400-\u9fff]")
_MIN_SENTENCE = 6  # characters: shorter pieces are datelines and bylines


def item_texts(title: str, text: str) -> list[str]:
    """What is embedded of an item: its headline and its first sentences."""
    lead = unicodedata.normalize("NFKC", text)
    sentences = [s.strip() for s in _SENTENCE_END.split(lead) if len(s.strip()) >= _MIN_SENTENCE]
    texts = [unicodedata.normalize("NFKC", title), *sentences[:LEAD_SENTENCES]]
    texts = [t for t in texts if t.strip()] or [" "]
    return [to_simplified(t) if _HAN.search(t) else t for t in texts]


def item_vector(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """The normalised mean of an item's text vectors."""
    mean = rows.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    unit: NDArray[np.float32] = (mean / norm if norm else mean).astype(np.float32)
    return unit


def embed_items(encoder: Embedder, items: Sequence[tuple[str, str]]) -> list[NDArray[np.float32]]:
    """The vectors of each (title, text)'s `item_texts`, one row per text (`item_vector` makes
    them one), the texts of all embedded in one call."""
    texts = [item_texts(title, text) for title, text in items]
    rows = encoder.embed([t for ts in texts for t in ts])
    bounds = list(itertools.accumulate((len(ts) for ts in texts), initial=0))
    return [rows[lo:hi] for lo, hi in itertools.pairwise(bounds)]


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
        ("en-en", 0.8945, 0.033, 0.9708),
        ("en-zh", 0.8584, 0.0234, 0.8975),
        ("zh-zh", 0.925, 0.0195, 0.9755),
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
