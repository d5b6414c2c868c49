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
    """The `item_vector` of each (title, text), the texts of all embedded in one call."""
    texts = [item_texts(title, text) for title, text in items]
    rows = encoder.embed([t for ts in texts for t in ts])
    bounds = list(itertools.accumulate((len(ts) for ts in texts), initial=0))
    return [item_vector(rows[lo:hi]) for lo, hi in itertools.pairwise(bounds)]


def language_pair(a: str, b: str) -> str:
    """ "en-en", "en-zh" or "zh-zh": the language families of two items, in order."""
    return "-".join(sorted((family(a), family(b))))


@dataclass(frozen=True, slots=True)
class Background:
    """Mean and spread of the cosines of unrelated items, per `language_pair`. The defaults were
    fitted on the 95 items of the two dev files (4,465 pairs, nearly all of different events:
    the second file holds the first's 60 items)."""

    pairs: tuple[tuple[str, float, float], ...] = (
        ("en-en", 0.8945, 0.033),
        ("en-zh", 0.8584, 0.0234),
        ("zh-zh", 0.925, 0.0195),
    )

    def z(self, cos: float, pair: str) -> float:
        """How far above the unrelated pairs' mean a cosine is, in their standard deviations."""
        for key, mean, sd in self.pairs:
            if key == pair:
                return (cos - mean) / sd
        return (cos - 0.9) / 0.03


def fit_background(families: Sequence[str], vectors: Sequence[NDArray[np.float32]]) -> Background:
    """`Background` of these items: every pair's cosine, median and standard deviation per
    language pair (the median, since some pairs are related)."""
    matrix = np.stack(vectors)
    cos = matrix @ matrix.T
    found: dict[str, list[float]] = {}
    for i, j in itertools.combinations(range(len(families)), 2):
        found.setdefault(language_pair(families[i], families[j]), []).append(float(cos[i, j]))
    default = Background()
    pairs = []
    for key, _mean, _sd in default.pairs:
        values = np.array(found.get(key, []))
        if len(values) >= 10:
            pairs.append((key, round(float(np.median(values)), 4), round(float(values.std()), 4)))
        else:
            pairs.append((key, _mean, _sd))
    return Background(tuple(pairs))
