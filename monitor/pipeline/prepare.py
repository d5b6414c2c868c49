"""One download made ready to store: parsed, normalised and judged for relevance.

All of it is pure and CPU-bound, so a cycle of many sources runs it in worker processes and its
event loop only dedupes and writes. Plain values in and out (picklable); a worker builds the
topic's matcher once from the `Topic` config and the watched claims' derived terms (the
matcher's `claim_terms`) rather than unpickling it for every document: the terms, not the
claims' texts, so a worker needs no dictionary and judges exactly as the main process does.
No I/O.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from monitor.collect.parse.document import parse_content
from monitor.keep.claim_terms import ClaimTerms
from monitor.keep.relevance import Topic, TopicMatcher
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


def prepare_in_worker(
    source: Source,
    result: FetchResult,
    topic: Topic,
    future_tolerance: timedelta,
    claim_terms: tuple[ClaimTerms, ...] = (),
) -> PreparedBatch:
    """`prepare_batch` in a worker process, which gets the topic's config and the claims' terms
    (`TopicMatcher.claim_terms`), not the matcher."""
    return prepare_batch(source, result, _matcher(topic, claim_terms), future_tolerance)


@lru_cache(maxsize=4)
def _matcher(topic: Topic, claim_terms: tuple[ClaimTerms, ...]) -> TopicMatcher:
    """Compiled once per worker (and topic and claims): building one costs tens of milliseconds."""
    return TopicMatcher(topic, claim_terms=claim_terms)
