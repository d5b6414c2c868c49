"""An item and a claim as the judge reads them: sentences, words, numbers, language. Pure, no I/O.

An item's sentences are its title, then its summary's and its text's, each once. The encoder
sees only the first of them, up to a budget of characters (`embedded_sentences`): the cost of
an embedding grows with the text's length (about 0.3 ms a character here), news states its news
first, and the judge must stay near 200 ms an item. The words and numbers of every sentence are
read, which costs little.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.judge.lexicon import words
from monitor.judge.quantities import Quantity, find_quantities
from monitor.judge.registry import Claim
from monitor.text.normalize import HAN, fold_text

MAX_SENTENCES = 60
MAX_SENTENCE_CHARS = 400
HAN_COST = 3.5  # English characters a Han character costs the encoder: about 0.8 tokens against 0.27
_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s+|(?<=[。！？；])|\n+")


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    words: frozenset[str]
    quantities: tuple[Quantity, ...]


@dataclass(frozen=True, slots=True)
class ItemReading:
    """What the judge reads of an item; `language` is "en" or "zh" (both scripts)."""

    sentences: tuple[Sentence, ...]
    language: str
    published: dt.date | None

    @property
    def words(self) -> frozenset[str]:
        return frozenset().union(*(s.words for s in self.sentences))


@dataclass(frozen=True, slots=True)
class ClaimReading:
    """A claim's words (with their weights: rarer among the registry's claims weighs more), its
    own words (those no other claim uses: what tells it from claims on the same subject), its
    numbers and the texts the encoder compares with (the claim, and its quote where known)."""

    claim: Claim
    weights: dict[str, float]
    quantities: tuple[Quantity, ...]
    texts: tuple[str, ...]
    language: str
    own: frozenset[str] = frozenset()


def language_of(text: str) -> str:
    """ "zh" when a tenth of the letters are Han characters, else "en"."""
    han = len(HAN.findall(text))
    letters = sum(ch.isalpha() for ch in text) or 1
    return "zh" if han / letters > 0.1 else "en"


def split_sentences(text: str) -> list[str]:
    return [p.strip() for p in _SENTENCE.split(text or "") if p.strip()]


def read_item(title: str, text: str, published: dt.date | None = None) -> ItemReading:
    """The item's sentences (title first, each once, at most MAX_SENTENCES)."""
    seen: set[str] = set()
    sentences: list[Sentence] = []
    for part in [title.strip(), *split_sentences(text)]:
        part = part[:MAX_SENTENCE_CHARS]
        if part and part not in seen and len(sentences) < MAX_SENTENCES:
            seen.add(part)
            sentences.append(_sentence(part))
    return ItemReading(tuple(sentences), language_of(f"{title} {text[:2000]}"), published)


def _sentence(text: str) -> Sentence:
    return Sentence(text, frozenset(words(text)), tuple(find_quantities(fold_text(text))))


def embedded_sentences(item: ItemReading, budget: int) -> int:
    """How many of the item's first sentences the encoder reads: the title always, then as many
    as fit in `budget` characters of English. The encoder's cost follows its tokens, and a Han
    character is about one token where English takes four or five characters to one: a Han
    character counts HAN_COST characters, so a Chinese item costs what an English one does."""
    used, count = 0.0, 0
    for sentence in item.sentences:
        cost = len(sentence.text) + (HAN_COST - 1) * len(HAN.findall(sentence.text))
        if count and used + cost > budget:
            break
        used += cost
        count += 1
    return count


def read_claims(claims: Sequence[Claim]) -> list[ClaimReading]:
    """Each claim's reading; its words from its text alone, a word's weight its inverse frequency
    among the claims, so the words every claim shares (the article's subject) count little and a
    claim's own count most. `texts` are the claim's text, then its quote where it has one.

    The quote (the article's own words) feeds one feature only, the z-score of its cosine
    (`features.quote_similarity`), where the text stands in for a missing quote: readers type
    claims as text, and a calibration serves registries with quotes and without. Mixed into the
    words or into the text's cosine, quotes transferred worse to a registry without them: a fit
    with them put article 2's precision at 0.43–0.58 against 0.60 without (measured on the two
    dev sets); the z-score, a claim's rank among the item's claims, means the same in both."""
    bags = [Counter(words(c.text)) for c in claims]
    frequency = Counter(w for bag in bags for w in bag)
    total = len(claims)
    readings = []
    for claim, bag in zip(claims, bags, strict=True):
        weights = {w: math.log(1 + total / frequency[w]) for w in bag}
        quantities = tuple(find_quantities(fold_text(claim.text)))
        texts = (claim.text, claim.quote) if claim.quote else (claim.text,)
        own = frozenset(w for w in bag if frequency[w] == 1)
        readings.append(ClaimReading(claim, weights, quantities, texts, language_of(claim.text), own))
    return readings
