"""The features of (item, claim) pairs: general signals, none of them about one claim. Pure.

For every claim at once, given the item's reading and sentence vectors and the claims' vectors:
- similarity: the best sentence's cosine with the claim's text, and its z-score among the item's
  claims: an item's language and length shift all its cosines alike (Chinese news against English
  claims sits lower), so where a claim stands among the others transfers from one article to
  another better than the raw cosine does; likewise the z-score of the mean over the sentences
  the encoder read (the item's lead as a whole, not its one closest sentence);
- the quote: the z-score of the best sentence's cosine with the claim's quote (the article's own
  sentence, often in the item's language), the claim's text standing in where it has none. Only
  the z-score: a quote raises every cosine of an item in its language, and a registry has quotes
  or not, so the raw cosine (or its mean with the text's) would not mean the same across them;
  the claim's rank among the item's claims does;
- lexical: the share of the claim's weighted words the item has (Chinese glossed into English),
  over the whole item (also as a z-score among the claims) and in its best sentence;
- specificity: the share of the claim's own words (those no other claim uses) the item has: the
  usual false alarm is the wrong claim among claims sharing the item's names (Nvidia, H20, China),
  and what tells them apart is the words only one of them uses;
- language: whether the item is in another language than the claim;
- the lead's cover: the share of the words of the item's lead (title and first sentences) that
  the claim has, a Chinese word counting once if one of its glosses is among them. The other
  lexical features ask how much of the claim the item says; this asks how much of the item's
  news the claim accounts for: the usual false alarm on an item that bears on no claim is news
  on the same subject whose own words (another product, another material, another law) no
  claim has.
Numbers (a number of the claim found in the item in the same unit: agrees; only other values in
that unit in a sentence that bears on the claim: conflicts) are computed for the relation model
(`PairFeatures.column`), not the flag model: they did not help find the claims an item bears on.
The evidence is the sentence where similarity and words agree most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.judge.encoder import Vectors
from monitor.judge.lexicon import word_units
from monitor.judge.reading import ClaimReading, ItemReading

Matrix = npt.NDArray[np.float64]
NUMBER_TOLERANCE = 0.05
BEARING = 0.25  # lexical share above which a sentence is taken to speak of the claim's matter
LEAD_SENTENCES = 3  # the title and the first two sentences: where news states what it is about

FLAG_FEATURES = (
    "sim",
    "sim_z",
    "doc_z",
    "lex",
    "lex_z",
    "lex_sentence",
    "specific",
    "cross_language",
    "quote_z",
    "lead_cover",
)
ENCODER_FEATURES = ("sim", "sim_z", "doc_z", "quote_z")  # what needs vectors
LEXICAL_FEATURES = tuple(f for f in FLAG_FEATURES if f not in ENCODER_FEATURES)


@dataclass(frozen=True, slots=True)
class PairFeatures:
    """Features of one item against every claim: `values[j]` for claim j, columns `names`;
    `evidence[j]` the index of the sentence that bears most on claim j; `extra` every column
    computed, the model's and others (numbers, for the relation model)."""

    names: tuple[str, ...]
    values: Matrix
    evidence: tuple[int, ...]
    extra: dict[str, Matrix] = field(default_factory=dict)

    def column(self, name: str) -> Matrix:
        if name in self.names:
            return self.values[:, self.names.index(name)]
        return self.extra[name]


def claim_similarity(sentences: Vectors, claims: Sequence[Vectors]) -> Matrix:
    """Cosine of each sentence (rows) with each claim's text (columns): the first of its vectors."""
    return _cosines(sentences, [vectors[0] for vectors in claims])


def quote_similarity(sentences: Vectors, claims: Sequence[Vectors]) -> Matrix:
    """Cosine of each sentence (rows) with each claim's quote (columns): the last of its vectors,
    which is the text's where the claim has no quote (see `ClaimReading.texts`)."""
    return _cosines(sentences, [vectors[-1] for vectors in claims])


def _cosines(sentences: Vectors, claims: Sequence[Vectors]) -> Matrix:
    if len(sentences) == 0 or not claims:
        return np.zeros((len(sentences), len(claims)))
    return np.asarray(sentences @ np.stack(claims).T, dtype=np.float64)


def pair_features(
    item: ItemReading,
    claims: Sequence[ClaimReading],
    similarity: Matrix | None,
    quotes: Matrix | None = None,
) -> PairFeatures:
    """The features of the item against each claim. `similarity` is `claim_similarity` of the
    item's first sentences (None without an encoder: the lexical features only), `quotes` their
    `quote_similarity` (None: the claims have no quotes, their texts stand in)."""
    lexical = _lexical(item, claims)
    whole = np.array([_share(item.words, c.weights) for c in claims])
    columns: dict[str, Matrix] = {}
    if similarity is not None and similarity.size:
        best = similarity.max(axis=0)
        columns |= {"sim": best, "sim_z": _z(best)}
        columns["doc_z"] = _z(similarity.mean(axis=0))
        columns["quote_z"] = _z((similarity if quotes is None else quotes).max(axis=0))
        score = lexical.copy()
        score[: len(similarity)] += similarity - similarity.max(axis=0, keepdims=True) + 1.0
        evidence = score.argmax(axis=0)
    else:
        evidence = lexical.argmax(axis=0)
    columns |= {"lex": whole, "lex_z": _z(whole), "lex_sentence": lexical.max(axis=0)}
    columns["specific"] = np.array([len(c.own & item.words) / len(c.own) if c.own else 0.0 for c in claims])
    agree, conflict = _numbers(item, claims, lexical)
    columns |= {"numbers_agree": agree, "numbers_conflict": conflict}
    columns["cross_language"] = np.array([float(c.language != item.language) for c in claims])
    columns["lead_cover"] = _lead_cover(item, claims)
    names = FLAG_FEATURES if similarity is not None and similarity.size else LEXICAL_FEATURES
    values = np.stack([columns[n] for n in names], axis=1)
    return PairFeatures(names, values, tuple(int(i) for i in evidence), columns)


def _share(words: frozenset[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for word, w in weights.items() if word in words) / total if total else 0.0


def _lexical(item: ItemReading, claims: Sequence[ClaimReading]) -> Matrix:
    """The weighted share of each claim's words in each sentence (rows: sentences)."""
    return np.array([[_share(s.words, c.weights) for c in claims] for s in item.sentences]).reshape(
        len(item.sentences), len(claims)
    )


def _lead_cover(item: ItemReading, claims: Sequence[ClaimReading]) -> Matrix:
    """The share of the lead's words (Chinese words glossed, see `word_units`) each claim has."""
    units = [u for s in item.sentences[:LEAD_SENTENCES] for u in word_units(s.text)]
    if not units:
        return np.zeros(len(claims))
    return np.array([sum(1 for u in units if not u.isdisjoint(c.weights)) / len(units) for c in claims])


def _z(scores: Matrix) -> Matrix:
    """Each claim's score as standard deviations from the mean over the item's claims."""
    spread = float(scores.std())
    return (scores - scores.mean()) / spread if spread > 1e-9 else np.zeros(len(scores))


def _numbers(item: ItemReading, claims: Sequence[ClaimReading], lexical: Matrix) -> tuple[Matrix, Matrix]:
    """Per claim: does the item state one of its numbers (same unit, same value), or, in a
    sentence that bears on the claim, only other values in that unit?"""
    agree, conflict = np.zeros(len(claims)), np.zeros(len(claims))
    for j, claim in enumerate(claims):
        wanted = [q for q in claim.quantities if q.unit]
        for i, sentence in enumerate(item.sentences):
            for q in wanted:
                found = [f for f in sentence.quantities if f.unit == q.unit]
                if any(f.overlaps(q.low, q.high, NUMBER_TOLERANCE) for f in found):
                    agree[j] = 1.0
                elif found and lexical[i, j] >= BEARING:
                    conflict[j] = 1.0
    return agree, conflict
