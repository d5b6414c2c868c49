"""The judge: which claims an item bears on, how, and the sentence that shows it. Pure but for
the encoder it is given (which runs a model; no network, no files).

`Judge` is built once from the registry's claims, an encoder (or None: lexical features only)
and a fitted `Calibration`. Reading an item and embedding its first sentences are separate steps
(`read`, `embed`) so that the caller can store the vectors and never embed an item twice;
`decide` turns a reading and its vectors into decisions, best first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from monitor.judge.calibration import Calibration
from monitor.judge.encoder import Encoder, Vectors
from monitor.judge.features import (
    FLAG_FEATURES,
    LEXICAL_FEATURES,
    Matrix,
    PairFeatures,
    claim_similarity,
    pair_features,
    quote_similarity,
)
from monitor.judge.reading import ClaimReading, ItemReading, embedded_sentences, read_claims, read_item
from monitor.judge.registry import Claim, Registry
from monitor.judge.relation import RELATION_FEATURES, claim_event, claim_time, relation_features, relation_matrix
from monitor.records import Decision

DEFAULT_EMBED_BUDGET = 600  # characters of an item the encoder reads (see reading.py)
MAX_EVIDENCE = 600


@dataclass(frozen=True, slots=True)
class Candidate:
    """A claim an item may bear on, for the verifier: the flag probability and the sentence the
    judge would quote (an index into the item's sentences)."""

    claim: Claim
    probability: float
    evidence: int


@dataclass(frozen=True, slots=True)
class Scored:
    """An item's features against every claim and the flag model's probability for each."""

    features: PairFeatures
    probability: Matrix


class Judge:
    """The claims, read once, and what judges items against them. Everything about the claims
    (their words, their vectors) is prepared on first use: a run with nothing relevant to judge
    never loads the model or the dictionary."""

    def __init__(
        self,
        registry: Registry,
        encoder: Encoder | None,
        calibration: Calibration | None,
        *,
        embed_budget: int = DEFAULT_EMBED_BUDGET,
    ) -> None:
        self.registry = registry
        self.encoder = encoder
        self._calibration = calibration
        self.embed_budget = embed_budget

    @property
    def calibration(self) -> Calibration:
        """The calibration in force (a judge built only to fit one has none, and cannot decide)."""
        if self._calibration is None:
            raise CalibrationMismatchError("the judge has no usable calibration: fit one with `monitor judge fit`")
        return self._calibration

    @property
    def calibrated(self) -> bool:
        return self._calibration is not None

    @cached_property
    def claims(self) -> tuple[Claim, ...]:
        return self.registry.claims

    @cached_property
    def readings(self) -> list[ClaimReading]:
        return read_claims(self.claims)

    @cached_property
    def _claim_vectors(self) -> list[Vectors]:
        return [self.encoder.embed(r.texts) for r in self.readings] if self.encoder else []

    @cached_property
    def _claim_times(self) -> list[dt.date | None]:
        return [claim_time(c.text, c.article_published) for c in self.claims]

    @cached_property
    def _claim_events(self) -> list[float]:
        return [claim_event(c.text) for c in self.claims]

    @property
    def encoder_name(self) -> str:
        return self.encoder.name if self.encoder else "none"

    def embedded_key(self, item: ItemReading) -> str:
        """What identifies an item's embedded sentences: stored vectors with another key (the
        text changed, or the budget did) are made again."""
        count = embedded_sentences(item, self.embed_budget)
        digest = hashlib.sha256("\n".join(s.text for s in item.sentences[:count]).encode("utf-8"))
        return f"{count}:{digest.hexdigest()[:40]}"

    def read(self, title: str, text: str, published_at: dt.datetime | dt.date | None) -> ItemReading:
        published = published_at.date() if isinstance(published_at, dt.datetime) else published_at
        return read_item(title, text, published)

    def embed(self, item: ItemReading) -> Vectors | None:
        """The vectors of the item's first sentences (None without an encoder)."""
        if self.encoder is None:
            return None
        count = embedded_sentences(item, self.embed_budget)
        return self.encoder.embed([s.text for s in item.sentences[:count]])

    def features(self, item: ItemReading, vectors: Vectors | None) -> PairFeatures:
        """The item's features against every claim (the lexical ones only without vectors)."""
        similarity = quotes = None
        if vectors is not None and len(vectors) and self._claim_vectors:
            similarity = claim_similarity(vectors, self._claim_vectors)
            quotes = quote_similarity(vectors, self._claim_vectors)
        return pair_features(item, self.readings, similarity, quotes)

    def score(self, item: ItemReading, vectors: Vectors | None) -> Scored:
        features = self.features(item, vectors)
        return Scored(features, flag_probability(self.calibration, features))

    def decide(self, item: ItemReading, vectors: Vectors | None) -> list[Decision]:
        """The claims the item bears on (at most `max_claims`), best first."""
        if not item.sentences or not self.claims:
            return []
        return self._decisions(item, self.features(item, vectors))

    def candidates(
        self, item: ItemReading, vectors: Vectors | None, *, floor: float, limit: int
    ) -> tuple[list[Decision], list[Candidate]]:
        """The judge's decisions, and the claims a verifier should be asked about: the `limit`
        most probable at `floor` or above, and every claim the judge flags, best first."""
        if not item.sentences or not self.claims:
            return [], []
        features = self.features(item, vectors)
        decisions = self._decisions(item, features)
        probability = flag_probability(self.calibration, features)
        flagged = {d.claim_id for d in decisions}
        order = [int(j) for j in np.argsort(-probability, kind="stable")]
        picked = [j for j in order[:limit] if probability[j] >= floor]
        picked += [j for j in order if self.claims[j].id in flagged and j not in picked]
        chosen = [Candidate(self.claims[j], float(probability[j]), features.evidence[j]) for j in picked]
        return decisions, chosen

    def _decisions(self, item: ItemReading, features: PairFeatures) -> list[Decision]:
        decisions = []
        for j, relation, p_flag, p_relation in self.judgements(item, features, self.calibration):
            sentence = item.sentences[features.evidence[j]].text
            why = f"p={p_flag:.2f}; {relation} p={p_relation:.2f}; encoder {self.encoder_name}"
            decisions.append(Decision(self.claims[j].id, relation, round(p_flag, 3), sentence[:MAX_EVIDENCE], why))
        return decisions

    def judgements(
        self, item: ItemReading, features: PairFeatures, calibration: Calibration
    ) -> list[tuple[int, str, float, float]]:
        """(claim index, relation, flag probability, relation probability) of each claim to
        flag, best first. Numbers have the last word on the stance: the claim's number found
        in the item supports it; only other values of its measure challenge it."""
        probability = flag_probability(calibration, features)
        chosen = choose(probability, calibration)
        if not chosen:
            return []
        rows = relation_matrix([self.relation_row(item, features, j) for j in chosen])
        model = calibration.relation
        found = []
        for j, p in zip(chosen, model.predict_proba(rows), strict=True):
            agree, conflict = features.column("numbers_agree")[j], features.column("numbers_conflict")[j]
            allowed = [c for c in model.classes if _stance_allowed(c, agree, conflict)] or list(model.classes)
            best = max(allowed, key=lambda c: p[model.classes.index(c)])
            found.append((j, best, float(probability[j]), float(p[model.classes.index(best)])))
        return found

    def relation_row(self, item: ItemReading, features: PairFeatures, j: int) -> list[float]:
        claim = self.claims[j]
        return relation_features(
            item.sentences[features.evidence[j]].text,
            item.sentences[0].text,
            item.published,
            claim.article_published,
            self._claim_times[j],
            float(features.column("numbers_conflict")[j]),
            self._claim_events[j],
        )

    def match(self, title: str, text: str, published_at: dt.datetime | dt.date | None) -> list[Decision]:
        """Read, embed and decide in one step (for callers that keep no vectors)."""
        item = self.read(title, text, published_at)
        return self.decide(item, self.embed(item))


def _stance_allowed(relation: str, agree: float, conflict: float) -> bool:
    if agree and not conflict:
        return relation == "supports"
    if conflict and not agree:
        return relation != "supports"
    return True


class CalibrationMismatchError(ValueError):
    """The calibration was fitted on other features than the judge computes (a newer or older
    monitor): it must be refitted (`monitor judge fit`), never applied column by column."""


def check_calibration(calibration: Calibration) -> None:
    """Raise CalibrationMismatchError unless every model reads the features this judge computes."""
    for model, names in (
        (calibration.flag, FLAG_FEATURES),
        (calibration.flag_lexical, LEXICAL_FEATURES),
        (calibration.relation, RELATION_FEATURES),
    ):
        if model.features != names:
            raise CalibrationMismatchError(
                f"the calibration was fitted on features {list(model.features)}, the judge computes {list(names)}: "
                "refit it with `monitor judge fit`"
            )


def flag_probability(calibration: Calibration, features: PairFeatures) -> Matrix:
    """Each claim's probability that the item bears on it: the full model with vectors, the
    lexical one without."""
    check_calibration(calibration)
    model = calibration.flag if features.names == calibration.flag.features else calibration.flag_lexical
    return model.predict_proba(features.values)[:, model.classes.index("yes")]


def choose(probability: Matrix, calibration: Calibration) -> list[int]:
    """The claims to flag: at least `threshold`, within `keep_ratio` of the best, best first."""
    order = [int(j) for j in np.argsort(-probability, kind="stable")]
    if not order or probability[order[0]] < calibration.threshold:
        return []
    floor = max(calibration.threshold, probability[order[0]] * calibration.keep_ratio)
    return [j for j in order if probability[j] >= floor][: calibration.max_claims]
