"""`monitor eval` and `monitor judge fit`: the pipeline's stages over labelled items, no server.

Evaluation runs relevance, near-duplicates and stories, and the judge over labelled items as a
poll cycle would (only relevant originals are judged), and scores the outcome with the figures
of `../shared/corpus/score.py`. With folds, each fold is judged by a calibration fitted on the
other folds (grouped by event): the cross-validated figure, which is the one to trust.

Fitting builds examples from labelled files and from the reader's reviews (a confirmed flag: the
item bears on the claim, with that relation; a dismissed one: it does not; a reviewed item bears
on no other claim), fits a calibration, and compares it with the one in force by the same
cross-validation: the new fit is kept only when it is not worse. Orchestration: it sequences the
pure stages; the callers read and write the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.judge.calibration import Calibration
from monitor.judge.encoder import Vectors
from monitor.judge.fitting import Example, Verdict, cross_validate, fit_calibration, judge_examples
from monitor.judge.judge import Judge
from monitor.judge.labels import LabelledItem, Outcome, event_of, figures, roots
from monitor.judge.llm import Verifier
from monitor.judge.verifier import ToVerify, verify_items
from monitor.keep.relevance import TopicMatcher
from monitor.pipeline.story_fit import clusters_of
from monitor.records import VerifierReport

DEFAULT_FOLDS = 5


@dataclass
class Evaluation:
    fitted: dict[str, Any]
    cross_validated: dict[str, Any] | None
    judged: int
    verified: dict[str, Any] | None = None  # with a verifier: its flags' figures
    verifier: VerifierReport | None = None  # and what they cost


def relevance_and_clusters(
    items: Sequence[LabelledItem], topic: TopicMatcher, judge: Judge | None = None
) -> tuple[Outcome, dict[str, Vectors]]:
    """Relevance, near-duplicates and stories as a poll cycle decides them, and the vectors the
    judge gave the relevant items (which stories read too, as in a poll cycle)."""
    outcome = Outcome()
    for item in items:
        outcome.relevant[item.id] = _relevant(topic, item)
    vectors = item_vectors(judge, [i for i in items if outcome.relevant[i.id]]) if judge is not None else {}
    links = clusters_of(items, vectors)
    outcome.duplicate_of.update(links.duplicate_of)
    outcome.story.update(links.story)
    return outcome, vectors


def item_vectors(judge: Judge, items: Sequence[LabelledItem]) -> dict[str, Vectors]:
    """Each labelled item's sentence vectors as the judge embeds them (none without an encoder),
    by id."""
    found = {}
    for item in items:
        vectors = judge.embed(judge.read(item.title, item.text, item.published))
        if vectors is not None:
            found[item.id] = vectors
    return found


def _relevant(topic: TopicMatcher, item: LabelledItem) -> bool:
    """As a poll cycle judges an item once its article text is in: title, summary and body."""
    return topic.judge(item.title, f"{item.summary} {item.body}").relevant


def examples_of(
    judge: Judge, items: Sequence[LabelledItem], vectors: Mapping[str, Vectors] | None = None
) -> list[Example]:
    """Each item read and embedded once (`vectors`: those embedded already), with its labels
    and its event."""
    root = roots(items)
    examples = []
    for item in items:
        reading = judge.read(item.title, item.text, item.published)
        embedded = vectors.get(item.id) if vectors else None
        embedded = embedded if embedded is not None else judge.embed(reading)
        examples.append(Example(item.id, reading, embedded, dict(item.claims), event_of(item, root), item.negative))
    return examples


def evaluate(
    items: Sequence[LabelledItem],
    judge: Judge,
    topic: TopicMatcher,
    *,
    folds: int | None = None,
    cross_language: bool = False,
    verifier: Verifier | None = None,
) -> Evaluation:
    """The figures with the judge's calibration, and cross-validated ones with `folds`; with a
    `verifier`, also the figures of the flags its verdicts leave, and what it cost."""
    outcome, vectors = relevance_and_clusters(items, topic, judge)
    judged = [i for i in items if outcome.relevant[i.id] and i.id not in outcome.duplicate_of]
    examples = examples_of(judge, judged, vectors)
    fitted = _scored(items, outcome, judge_examples(judge, judge.calibration, examples), cross_language)
    crossed = None
    if folds:
        crossed = _scored(items, outcome, cross_validate(judge, examples, folds), cross_language)
    if verifier is None:
        return Evaluation(fitted, crossed, len(judged))
    verdicts, report = verify_examples(judge, verifier, judged, examples)
    verified = _scored(items, outcome, verdicts, cross_language)
    return Evaluation(fitted, crossed, len(judged), verified, report)


def verify_examples(
    judge: Judge, verifier: Verifier, items: Sequence[LabelledItem], examples: Sequence[Example]
) -> tuple[list[Verdict], VerifierReport]:
    """The flags each example keeps once the verifier has judged the judge's candidates, as a
    poll cycle would (the same questions, the same rules), with every question asked: the
    evaluation's budget is the whole set."""
    entries = [ToVerify(i.id, i.title, i.text, e.reading, e.vectors) for i, e in zip(items, examples, strict=True)]
    verifier.start_cycle(unlimited=True)
    settled, _ = verify_items(judge, verifier.settings, entries, lambda keys: {}, verifier.resolve)
    verdicts = [Verdict(str(item_id), {d.claim_id: d.relation for d in flags}) for item_id, flags, _ in settled]
    return verdicts, verifier.report()


def _scored(
    items: Sequence[LabelledItem], outcome: Outcome, verdicts: Sequence[Verdict], cross_language: bool
) -> dict[str, Any]:
    outcome.flags = {v.id: v.flags for v in verdicts}
    return figures(items, outcome, cross_language=cross_language)


@dataclass
class FitResult:
    """The new fit, and whether it scores worse than the calibration in force (then the caller
    keeps that one, unless told otherwise)."""

    calibration: Calibration
    worse: bool
    new_score: dict[str, Any]
    previous_score: dict[str, Any]


def fit(
    judge: Judge,
    items: Sequence[LabelledItem],
    topic: TopicMatcher | None,
    *,
    folds: int = DEFAULT_FOLDS,
    described: dict[str, Any] | None = None,
) -> FitResult:
    """Fit on the relevant items (all of them without a topic), and say whether the new fit's
    cross-validated F1 is lower than the calibration in force scores on the same items (a judge
    without a usable calibration has none to keep)."""
    if topic is not None:
        items = [i for i in items if _relevant(topic, i)]
    if not items:
        raise ValueError("no labelled item to fit on")
    examples = examples_of(judge, items)
    outcome = Outcome()
    new_score = _scored(items, outcome, cross_validate(judge, examples, min(folds, len(examples))), False)
    previous_score = (
        _scored(items, outcome, judge_examples(judge, judge.calibration, examples), False) if judge.calibrated else {}
    )
    calibration = fit_calibration(judge, examples, described)
    calibration.report = {
        "cross_validated": _summary(new_score),
        "fitted": _summary(_scored(items, outcome, judge_examples(judge, calibration, examples), False)),
        "folds": folds,
    }
    return FitResult(calibration, _f1(new_score) < _f1(previous_score), new_score, previous_score)


def _summary(score: dict[str, Any]) -> dict[str, Any]:
    keys = ("flag_precision", "flag_recall", "relation_accuracy", "stance_accuracy", "negatives_clean")
    return {k: score.get(k) for k in keys}


def _f1(score: dict[str, Any]) -> float:
    p, r = score.get("flag_precision") or 0.0, score.get("flag_recall") or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0
