"""Decide which claims a news item bears on, how (supports / contradicts / updates), and why.

For each sentence of the item (title first), the matcher finds the registry's terms in one
pass. A claim is a candidate only where one of its anchors (its subject: H20, SMIC, HBM…) is in
the sentence or the title. Its evidence in a sentence is:
- a signal: every term group of the signal present (a kind of development the registry names);
- a quantity: a number in the claim's unit beside the claim's `near` terms: within tolerance it
  supports the claim, outside it the claim is contradicted (or updated, as the registry says);
- a date: a year-month beside the date's `near` terms: the same supports, another contradicts.
Numbers and dates outweigh signals: change words (ban, approve, resume) occur in nearly every
export-control story, a different figure or date for the same fact is what contradicts.

The best sentence gives the claim's score, relation and evidence. Claims are then ranked per
item and only those close to the best are kept, because the usual false alarm is the wrong
claim on a relevant item. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from monitor.claims.quantities import Quantity as Found
from monitor.claims.quantities import find_months, find_quantities
from monitor.claims.registry import ClaimSpec, Registry, Relation
from monitor.models import Decision
from monitor.normalize import fold_text
from monitor.terms import TermFinder, term_key

QUANTITY_WEIGHT = 1.5
DATE_WEIGHT = 1.5
TERM_BONUS = 0.1
THRESHOLD = 1.0
KEEP_RATIO = 0.7
AGREEMENT_BONUS = 0.15
CHALLENGE_RATIO = 0.85
# the title and first sentences at full weight, later ones less: news states its news first
POSITION_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.9, 0.85, 0.8, 0.75, 0.7)
MAX_CLAIMS = 3
MAX_EVIDENCE = 600
_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s+|(?<=[。！？；])|\n+")


@dataclass(frozen=True, slots=True)
class _Signal:
    relation: Relation
    groups: tuple[frozenset[str], ...]
    unless: frozenset[str]
    weight: float
    label: str


@dataclass(frozen=True, slots=True)
class _Quantity:
    value: float
    high: float
    unit: str
    tolerance: float
    near: frozenset[str]
    otherwise: Relation
    label: str


@dataclass(frozen=True, slots=True)
class _Date:
    year: int
    month: int | None
    near: frozenset[str]
    label: str


@dataclass(frozen=True, slots=True)
class _Claim:
    id: str
    anchors: frozenset[str]
    terms: frozenset[str]
    signals: tuple[_Signal, ...]
    quantities: tuple[_Quantity, ...]
    dates: tuple[_Date, ...]


@dataclass
class _Sentence:
    text: str
    folded: str
    keys: set[str]
    weight: float = 1.0
    published: tuple[int, int] | None = None
    _quantities: list[Found] | None = None
    _months: list[tuple[int, int]] | None = None

    @property
    def quantities(self) -> list[Found]:
        if self._quantities is None:
            self._quantities = find_quantities(self.folded)
        return self._quantities

    @property
    def months(self) -> list[tuple[int, int]]:
        if self._months is None:
            self._months = find_months(self.folded, self.published)
        return self._months


@dataclass
class _Evidence:
    score: float = 0.0
    relation: Relation = "supports"
    reasons: list[str] = field(default_factory=list)
    strength: float = 0.0  # of the evidence that decides the relation


class ClaimMatcher:
    """A registry compiled once: every term in one finder, claims indexed by their anchors."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._claims = [self._compile(c) for c in registry.claims]
        self._by_anchor: dict[str, list[_Claim]] = {}
        for claim in self._claims:
            for key in claim.anchors:
                self._by_anchor.setdefault(key, []).append(claim)
        all_terms = {fold_text(a) for c in registry.claims for t in _terms_of(c) for a in registry.aliases(t)}
        self._finder = TermFinder(all_terms)

    def _keys(self, terms: Iterable[str]) -> frozenset[str]:
        return frozenset(term_key(fold_text(a)) for t in terms for a in self.registry.aliases(t))

    def _compile(self, c: ClaimSpec) -> _Claim:
        return _Claim(
            id=c.id,
            anchors=self._keys(c.anchors),
            terms=self._keys(c.terms),
            signals=tuple(
                _Signal(
                    s.relation,
                    tuple(self._keys(g) for g in s.when),
                    self._keys(s.unless),
                    s.weight,
                    s.note or _label(s.when),
                )
                for s in c.signals
            ),
            quantities=tuple(
                _Quantity(
                    q.value,
                    q.value if q.high is None else q.high,
                    q.unit,
                    q.tolerance,
                    self._keys(q.near),
                    q.relation_if_different,
                    q.measure,
                )
                for q in c.quantities
            ),
            dates=tuple(_Date(*_year_month(d.value), self._keys(d.near), d.about) for d in c.dates),
        )

    def match(self, title: str, text: str, published_at: datetime | None = None) -> list[Decision]:
        """The claims this item bears on, best first (at most MAX_CLAIMS)."""
        published = (published_at.year, published_at.month) if published_at else None
        sentences = self._sentences(title, text, published)
        if not sentences:
            return []
        title_keys = sentences[0].keys
        seen = set().union(*(s.keys for s in sentences))
        candidates = {c.id: c for key in seen for c in self._by_anchor.get(key, ())}
        ranked: list[tuple[float, Decision]] = []
        for claim in candidates.values():
            best: tuple[_Evidence, _Sentence] | None = None
            supporting = 0
            for sentence in sentences:
                if not claim.anchors & (sentence.keys | title_keys):
                    continue
                evidence = _weigh(claim, sentence)
                if evidence.score:
                    supporting += 1
                    evidence.score *= sentence.weight
                    evidence.strength *= sentence.weight
                    if best is None or evidence.score > best[0].score:
                        best = (evidence, sentence)
            if best is None:
                continue
            evidence, sentence = best
            evidence.score += AGREEMENT_BONUS * min(supporting - 1, 3)
            score = evidence.score + TERM_BONUS * len(claim.terms & seen)
            if evidence.score >= THRESHOLD:
                ranked.append(
                    (
                        evidence.strength,
                        Decision(
                            claim.id,
                            evidence.relation,
                            round(score, 3),
                            sentence.text[:MAX_EVIDENCE],
                            "; ".join(evidence.reasons),
                        ),
                    )
                )
        return _rank(ranked)

    def _sentences(self, title: str, text: str, published: tuple[int, int] | None) -> list[_Sentence]:
        """The title, then the text's sentences, each weighted by its place: news states its
        news first; what comes later is more often background."""
        parts = [title.strip()] + [p.strip() for p in _SENTENCE.split(text or "")]
        sentences: list[_Sentence] = []
        for part in parts:
            if part:
                folded = fold_text(part)
                keys = {key for key, _s, _e in self._finder.find(folded)}
                weight = POSITION_WEIGHTS[min(len(sentences), len(POSITION_WEIGHTS) - 1)]
                sentences.append(_Sentence(part, folded, keys, weight, published))
        return sentences


def _weigh(claim: _Claim, sentence: _Sentence) -> _Evidence:
    """The claim's evidence in one sentence: signals, then numbers and dates, which decide."""
    evidence = _Evidence()
    for signal in claim.signals:
        if all(group & sentence.keys for group in signal.groups) and not signal.unless & sentence.keys:
            evidence.score += signal.weight
            evidence.reasons.append(f"{signal.relation}: {signal.label}")
            # "despite X, Y": a challenge close in weight to a confirmation in the same sentence wins
            challenge = signal.relation != "supports" and evidence.relation == "supports"
            if signal.weight > evidence.strength or (
                challenge and signal.weight >= CHALLENGE_RATIO * evidence.strength
            ):
                evidence.relation, evidence.strength = signal.relation, max(signal.weight, evidence.strength)
    for quantity in claim.quantities:
        if quantity.near & sentence.keys:
            found = [q for q in sentence.quantities if q.unit == quantity.unit]
            if found:
                same = any(q.overlaps(quantity.value, quantity.high, quantity.tolerance) for q in found)
                relation: Relation = "supports" if same else quantity.otherwise
                _decide(evidence, relation, QUANTITY_WEIGHT, f"{relation}: {quantity.label} {_show(found)}")
    for date in claim.dates:
        if date.near & sentence.keys and sentence.months:
            # a later date tells of a later development (the signals judge it); an earlier one, that
            # the claim dates the fact wrongly
            same = any(y == date.year and (date.month is None or m == date.month) for y, m in sentence.months)
            earlier = [ym for ym in sentence.months if ym < (date.year, date.month or 1)]
            if same or earlier:
                relation = "supports" if same else "contradicts"
                year, month = (date.year, date.month or 1) if same else earlier[0]
                _decide(evidence, relation, DATE_WEIGHT, f"{relation}: {date.label} {year}-{month:02d}")
    return evidence


def _decide(evidence: _Evidence, relation: Relation, weight: float, reason: str) -> None:
    evidence.score += weight
    evidence.reasons.append(reason)
    # a contradiction outranks a confirmation of equal weight
    if weight > evidence.strength or (weight == evidence.strength and relation != "supports"):
        evidence.relation, evidence.strength = relation, weight


def _rank(ranked: list[tuple[float, Decision]]) -> list[Decision]:
    """Best first; keep the claims whose strongest single piece of evidence comes close to the
    best one's (scores add up repeated evidence, strength does not)."""
    if not ranked:
        return []
    ranked.sort(key=lambda sd: (-sd[0], -sd[1].score, sd[1].claim_id))
    floor = ranked[0][0] * KEEP_RATIO
    return [d for strength, d in ranked if strength >= floor][:MAX_CLAIMS]


def _terms_of(claim: ClaimSpec) -> list[str]:
    from monitor.claims.registry import referenced_terms

    return referenced_terms(claim)


def _year_month(value: str) -> tuple[int, int | None]:
    year, _, month = value.partition("-")
    return int(year), int(month) if month else None


def _label(when: tuple[tuple[str, ...], ...]) -> str:
    return " + ".join(group[0].lstrip("@") for group in when)


def _show(found: list[Found]) -> str:
    q = found[0]
    value = f"{q.low:g}" if q.low == q.high else f"{q.low:g}–{q.high:g}"
    return f"({value} {q.unit})"
