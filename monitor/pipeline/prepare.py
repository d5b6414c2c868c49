"""One download made ready to store: parsed, normalised and judged for relevance.

All of it is pure and CPU-bound, so a cycle of many sources runs it in worker processes and its
event loop only dedupes and writes. Plain values in and out (picklable); a worker gets the
`Topic` config and the watched claims' derived terms (the matcher's `claim_terms`) once, when it
starts (`start_worker`), and builds the topic's matcher from them: the terms, not the claims'
texts, so a worker needs no dictionary and judges exactly as the main process does. With each
document it gets the source and the download alone (the topic and terms with every document
cost the main process ~0.65 ms a source to pickle). No I/O.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from monitor.collect.parse.document import parse_content
from monitor.keep.claim_terms import ClaimTerms
from monitor.keep.relevance import Topic, TopicMatcher
from monitor.pipeline.lifeline import die_with_parent
from monitor.records import FetchResult, ItemIntent
from monitor.settings import Source
from monitor.text.normalize import to_intents


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A document's items, ready to be deduplicated and stored; `warning` when it was malformed."""

    intents: list[ItemIntent]
    warning: str | None = None


def judge_intent(intent: ItemIntent, topic: TopicMatcher) -> ItemIntent:
    verdict = topic.judge(intent.title, intent.summary)
    return dataclasses.replace(intent, relevant=verdict.relevant, relevant_why=verdict.why)


def prepare_batch(
    source: Source, result: FetchResult, topic: TopicMatcher, future_tolerance: timedelta
) -> PreparedBatch:
    """Parse a download (feed or listing page) and turn its entries into judged intents."""
    parsed = parse_content(source.kind, result.content or b"", result.headers, result.url, source.selectors)
    intents = to_intents(
        parsed.items,
        source_id=source.id,
        lang_hint=source.lang or parsed.lang,
        fetched_at=result.fetched_at,
        future_tolerance=future_tolerance,
    )
    return PreparedBatch([judge_intent(i, topic) for i in intents], parsed.warning)


_WORKER_MATCHER: list[TopicMatcher] = []  # a worker process's matcher, built by `start_worker`


def start_worker(parent_pid: int, topic: Topic, claim_terms: tuple[ClaimTerms, ...]) -> None:
    """A parse worker's start (the pool's initializer): end with the parent (`die_with_parent`)
    and build the topic's matcher, once (tens of milliseconds), for every document it prepares."""
    die_with_parent(parent_pid)
    _WORKER_MATCHER[:] = [TopicMatcher(topic, claim_terms=claim_terms)]


def prepare_in_worker(source: Source, result: FetchResult, future_tolerance: timedelta) -> PreparedBatch:
    """`prepare_batch` in a worker process started by `start_worker`, with its matcher."""
    return prepare_batch(source, result, _WORKER_MATCHER[0], future_tolerance)
