"""Fitting the calibration on labelled examples, and scoring a judge against labels. Pure.

An `Example` is an item the judge has read (and its vectors), with the claims it bears on and
the event it reports. `fit_calibration` fits the flag models on every (item, claim) pair and the
relation model on the labelled pairs, then the decision rule (threshold, keep ratio) that gives
the best F1 on the examples. `cross_validate` refits on all folds but one and judges the one left
out, folds grouped by event, so that no event is both learnt and tested: that is the figure to
trust, the fitted one overstates.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor.judge.calibration import Calibration, Matrix, Model
from monitor.judge.encoder import Vectors
from monitor.judge.features import LEXICAL_FEATURES, PairFeatures
from monitor.judge.judge import Judge, choose, flag_probability
from monitor.judge.reading import ItemReading
from monitor.judge.relation import RELATION_FEATURES, relation_matrix

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.10, 0.91, 0.05))
KEEP_RATIOS = (0.3, 0.5, 0.7, 0.9)
L2 = 1.0


@dataclass
class Example:
    """A judged item with its labels: `claims` maps claim id → relation (empty: bears on none)."""

    id: str
    reading: ItemReading
    vectors: Vectors | None
    claims: dict[str, str]
    group: str
    negative: bool = False
    _features: PairFeatures | None = field(default=None, repr=False)

    def features(self, judge: Judge) -> PairFeatures:
        if self._features is None:
            self._features = judge.features(self.reading, self.vectors)
        return self._features


@dataclass(frozen=True)
class Verdict:
    """What the judge flagged on an example: claim id → relation."""

    id: str
    flags: dict[str, str]


def fit_calibration(judge: Judge, examples: Sequence[Example], fitted_on: dict[str, Any] | None = None) -> Calibration:
    """Fit every model and the decision rule on the examples."""
    ids = [c.id for c in judge.claims]
    rows, lexical_rows, labels = [], [], []
    rel_rows, rel_labels = [], []
    for example in examples:
        features = example.features(judge)
        lexical = _lexical_columns(features)
        for j, claim_id in enumerate(ids):
            rows.append(features.values[j])
            lexical_rows.append(lexical[j])
            labels.append("yes" if claim_id in example.claims else "no")
            if claim_id in example.claims:
                rel_rows.append(judge.relation_row(example.reading, features, j))
                rel_labels.append(example.claims[claim_id])
    names = examples[0].features(judge).names if examples else ()
    flag = Model(tuple(names), ("yes", "no"), L2).fit(np.array(rows), labels)
    flag_lexical = Model(LEXICAL_FEATURES, ("yes", "no"), L2).fit(np.array(lexical_rows), labels)
    classes = tuple(sorted(set(rel_labels))) or ("supports",)
    relation = Model(RELATION_FEATURES, classes, L2).fit(relation_matrix(rel_rows), rel_labels)
    calibration = Calibration(flag, flag_lexical, relation, fitted_on=dict(fitted_on or {}))
    calibration.threshold, calibration.keep_ratio = _best_rule(judge, calibration, examples)
    return calibration


def _lexical_columns(features: PairFeatures) -> Matrix:
    return features.values[:, [features.names.index(n) for n in LEXICAL_FEATURES]]


def _best_rule(judge: Judge, calibration: Calibration, examples: Sequence[Example]) -> tuple[float, float]:
    """The threshold and keep ratio with the best F1 on the examples (ties: the higher threshold)."""
    probabilities = [flag_probability(calibration, e.features(judge)) for e in examples]
    best: tuple[float, float, float] = (-1.0, 0.5, 0.5)
    for threshold, keep in itertools.product(THRESHOLDS, KEEP_RATIOS):
        trial = Calibration(calibration.flag, calibration.flag_lexical, calibration.relation, threshold, keep)
        flagged = [{judge.claims[j].id for j in choose(p, trial)} for p in probabilities]
        hit = sum(len(f & set(e.claims)) for f, e in zip(flagged, examples, strict=True))
        precision = hit / max(1, sum(len(f) for f in flagged))
        recall = hit / max(1, sum(len(e.claims) for e in examples))
        f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
        if f1 > best[0] or (f1 == best[0] and threshold > best[1]):
            best = (f1, threshold, keep)
    return best[1], best[2]


def judge_examples(judge: Judge, calibration: Calibration, examples: Sequence[Example]) -> list[Verdict]:
    """The judge's flags on each example with the given calibration."""
    verdicts = []
    for example in examples:
        judged = judge.judgements(example.reading, example.features(judge), calibration)
        verdicts.append(Verdict(example.id, {judge.claims[j].id: relation for j, relation, _, _ in judged}))
    return verdicts


def folds_by_group(examples: Sequence[Example], folds: int) -> list[list[int]]:
    """Example indexes in `folds` folds; the examples of one group (event) share a fold. Groups
    are dealt largest first to the fold with fewest examples, so the folds come out even."""
    groups = Counter(e.group for e in examples)
    fold_of: dict[str, int] = {}
    sizes = [0] * folds
    for group, size in sorted(groups.items(), key=lambda gs: (-gs[1], gs[0])):
        k = sizes.index(min(sizes))
        fold_of[group] = k
        sizes[k] += size
    return [[i for i, e in enumerate(examples) if fold_of[e.group] == k] for k in range(folds)]


def cross_validate(judge: Judge, examples: Sequence[Example], folds: int) -> list[Verdict]:
    """Each example judged by a calibration fitted on the other folds."""
    verdicts: dict[int, Verdict] = {}
    for held_out in folds_by_group(examples, folds):
        held = set(held_out)
        train = [e for i, e in enumerate(examples) if i not in held]
        if not train or not held_out:
            continue
        calibration = fit_calibration(judge, train)
        for i, verdict in zip(
            held_out, judge_examples(judge, calibration, [examples[i] for i in held_out]), strict=True
        ):
            verdicts[i] = verdict
    return [verdicts[i] for i in sorted(verdicts)]
