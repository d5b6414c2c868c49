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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.judge.calibration import Calibration
from monitor.judge.fitting import Example, Verdict, cross_validate, fit_calibration, judge_examples
from monitor.judge.judge import Judge
from monitor.judge.labels import LabelledItem, Outcome, event_of, figures, roots
from monitor.judge.llm import Verifier
from monitor.judge.verifier import questions_for, settle_item, unsettled
from monitor.models import VerifierOutcome, VerifierReport
from monitor.relevance import TopicMatcher
from monitor.story_fit import clusters_of
from monitor.story_vectors import Embedder, embed_items

DEFAULT_FOLDS = 5


@dataclass
class Evaluation:
    fitted: dict[str, Any]
    cross_validated: dict[str, Any] | None
    judged: int
    verified: dict[str, Any] | None = None  # with a verifier: its flags' figures
    verifier: VerifierReport | None = None  # and what they cost


def relevance_and_clusters(
    items: Sequence[LabelledItem], topic: TopicMatcher, encoder: Embedder | None = None
) -> Outcome:
    """Relevance, near-duplicates and stories as a poll cycle decides them (with the items'
    vectors when there is an encoder)."""
    outcome = Outcome()
    for item in items:
        outcome.relevant[item.id] = _relevant(topic, item)
    links = clusters_of(items, item_vectors(encoder, items) if encoder is not None else None)
    outcome.duplicate_of.update(links.duplicate_of)
    outcome.story.update(links.story)
    return outcome


def item_vectors(encoder: Embedder, items: Sequence[LabelledItem]) -> dict[str, NDArray[np.float32]]:
    """Each labelled item's text vectors (`embed_items`), by id."""
    vectors = embed_items(encoder, [(i.title, f"{i.summary}\n{i.body}") for i in items])
    return {i.id: v for i, v in zip(items, vectors, strict=True)}


def _relevant(topic: TopicMatcher, item: LabelledItem) -> bool:
    """As a poll cycle judges an item once its article text is in: title, summary and body."""
    return topic.judge(item.title, f"{item.summary} {item.body}").relevant


def examples_of(judge: Judge, items: Sequence[LabelledItem]) -> list[Example]:
    """Each item read and embedded once, with its labels and its event."""
    root = roots(items)
    examples = []
    for item in items:
        reading = judge.read(item.title, item.text, item.published)
        examples.append(
            Example(item.id, reading, judge.embed(reading), dict(item.claims), event_of(item, root), item.negative)
        )
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
    outcome = relevance_and_clusters(items, topic, judge.encoder)
    judged = [i for i in items if outcome.relevant[i.id] and i.id not in outcome.duplicate_of]
    examples = examples_of(judge, judged)
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
    settings = verifier.settings
    asked = []
    for item, example in zip(items, examples, strict=True):
        decisions, candidates = judge.candidates(
            example.reading, example.vectors, floor=settings.min_score, limit=settings.max_candidates
        )
        questions = questions_for(
            item.id,
            item.title,
            item.text,
            example.reading,
            candidates,
            model=verifier.model,
            text_chars=settings.text_chars,
        )
        asked.append((example.id, decisions, questions))
    verifier.start_cycle(budget=None)
    known: dict[str, VerifierOutcome] = {}
    outcomes = verifier.resolve(unsettled((q for _, _, qs in asked for q, _ in qs), known), known)
    verdicts = []
    for example_id, decisions, questions in asked:
        flags, _left = settle_item(decisions, questions, outcomes, verifier.model)
        verdicts.append(Verdict(example_id, {d.claim_id: d.relation for d in flags}))
    u = verifier.usage
    return verdicts, VerifierReport(
        u.calls, u.tokens, round(u.seconds, 3), u.invalid, u.errors, u.left, verifier.stopped
    )


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
