"""The records that flow through the monitor: what a poll fetched, parsed, stored and decided.

Imports nothing of ours. Frozen dataclasses: plain values that cross process boundaries (the
parse workers) and the storage edge unchanged; storage imports these and nothing else of ours
but the errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

PollStatus = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True, slots=True, weakref_slot=True)
class FetchResult:
    """What one download gave: a body (200), nothing new (304), never an error. (Weakly
    referable: the fetcher counts a body against its memory budget until the result is dropped.)"""

    source_id: str
    url: str
    status: int
    content: bytes | None
    headers: dict[str, str]
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """An entry as a parser found it, before normalisation."""

    guid: str | None
    url: str | None
    title: str
    summary: str
    published_at: datetime | None
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    items: list[ParsedItem]
    title: str | None = None
    lang: str | None = None
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class ItemIntent:
    """A normalised item, ready to be deduplicated and stored."""

    source_id: str
    guid: str
    url: str | None
    canonical_url: str | None
    title: str
    summary: str
    lang: str
    published_at: datetime
    fetched_at: datetime
    date_note: str | None
    content_hash: str
    relevant: bool = True
    relevant_why: str | None = None


@dataclass(frozen=True, slots=True)
class ArticleUpdate:
    """What fetching an item's article found, to be stored on the item."""

    item_id: int
    status: str  # ok | failed | blocked | empty
    error: str | None
    text: str | None = None
    canonical_url: str | None = None
    lang: str | None = None
    relevant: bool | None = None
    relevant_why: str | None = None


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    source_id: str
    guid: str
    url: str | None
    canonical_url: str | None
    title: str
    summary: str
    lang: str
    published_at: datetime
    fetched_at: datetime
    date_note: str | None
    duplicate_of: int | None
    story_id: int | None
    relevant: bool
    relevant_why: str | None
    text: str | None = None
    article_status: str | None = None
    article_error: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the database knows of a source between polls."""

    id: str
    url: str
    kind: str
    name: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: str | None = None
    consecutive_errors: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_poll_at: datetime | None = None
    item_count: int = 0
    failing_since: datetime | None = None  # the first error after the last success


@dataclass(slots=True)
class StoreCounts:
    new: int = 0
    duplicate: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class NotModified:
    """A 304: when it was answered, and the validators it carried (a server may send new ones)."""

    at: datetime
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one poll of one source did."""

    source_id: str
    status: PollStatus
    counts: StoreCounts = field(default_factory=StoreCounts)
    error: str | None = None
    error_kind: str | None = None
    warning: str | None = None
    http_status: int | None = None
    seconds: float = 0.0
    next_poll_at: datetime | None = None  # set on the source once its follow-up work is done or handed on
    articles_left: int = 0  # articles still pending after this cycle's budget
    not_modified: NotModified | None = None  # a 304: recorded with the next poll (`schedule_polls`)


@dataclass(frozen=True, slots=True)
class VerifierReport:
    """What a cycle's verifier did: calls made, tokens the server counted, seconds spent, unusable
    answers, failed calls, questions left for a later cycle, and why it stopped calling ("")."""

    calls: int = 0
    tokens: int = 0
    seconds: float = 0.0
    invalid: int = 0
    errors: int = 0
    left: int = 0
    stopped: str = ""


@dataclass(frozen=True, slots=True)
class CycleReport:
    started_at: datetime
    finished_at: datetime
    outcomes: list[SourceOutcome]
    verifier: VerifierReport | None = None

    @property
    def all_failed(self) -> bool:
        return bool(self.outcomes) and all(o.status == "error" for o in self.outcomes)


@dataclass(frozen=True, slots=True)
class KnownKeys:
    """What the store already holds that a batch could collide with."""

    source_guids: frozenset[str] = frozenset()
    source_urls: frozenset[str] = frozenset()
    first_by_url: dict[str, int] = field(default_factory=dict)
    first_by_hash: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Planned:
    """An item to insert; it copies a stored item (`duplicate_of`) or an earlier one of the
    same batch (`duplicate_of_index`), or neither."""

    intent: ItemIntent
    duplicate_of: int | None = None
    duplicate_of_index: int | None = None


class Fetcher(Protocol):
    """Downloads a URL politely; raises FetchError (or BlockedURLError) for anything but 200/304."""

    async def fetch(
        self,
        source_id: str,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
        source_host: str | None = None,
    ) -> FetchResult: ...


@dataclass(frozen=True, slots=True)
class Verification:
    """What the language model said of a flag. `status`: `verified` (its verdict made the flag:
    relation and evidence are its), `unverified` (not asked yet: the budget was spent or the
    server could not be reached; asked in a later cycle), `failed` (it answered twice with
    something unusable: the judge's flag stands as it was)."""

    status: str
    model: str
    at: datetime | None = None
    reason: str | None = None
    confidence: float | None = None

    def summary(self) -> str:
        """What the verifier said, in a line for a reader."""
        if self.status == "verified":
            confidence = f", confidence {self.confidence:.2f}" if self.confidence is not None else ""
            return f"verified by {self.model}{confidence}: {self.reason or ''}".rstrip(": ")
        if self.status == "failed":
            return f"not verified ({self.model} gave no usable answer: {self.reason or '-'}); the judge's flag"
        return "not verified yet (the verifier's budget was spent or its server unreachable); the judge's flag"


@dataclass(frozen=True, slots=True)
class VerifierAnswer:
    """A valid verdict: `quote` is in the item (as the model wrote it)."""

    relation: str
    quote: str
    reason: str
    confidence: float


@dataclass(frozen=True, slots=True)
class VerifierOutcome:
    """What became of a question: `ok` (an answer), `invalid` (two unusable answers: cached, never
    asked again), `error` (the server failed or could not be reached: asked again in a later
    cycle, `attempts` counting the cycles). `calls` and `tokens` are what it cost this time."""

    key: str
    status: str
    model: str
    at: datetime
    answer: VerifierAnswer | None = None
    error: str | None = None
    attempts: int = 1
    calls: int = 0
    tokens: int = 0

    @property
    def settled(self) -> bool:
        """Whether the question needs no more calls (a server error may be retried)."""
        return self.status != "error"


@dataclass(frozen=True, slots=True)
class Decision:
    """A claim an item bears on: the relation, a score, the evidence sentence and the reason."""

    claim_id: str
    relation: str  # supports | contradicts | updates
    score: float
    evidence: str
    why: str
    verification: Verification | None = None  # None: no verifier configured


@dataclass(frozen=True, slots=True)
class StoredFlag:
    """A flag with its item and every outlet carrying the item (its copies' sources too)."""

    id: int
    claim_id: str
    relation: str
    score: float
    evidence: str
    why: str | None
    state: str
    note: str | None
    created_at: datetime
    reviewed_at: datetime | None
    item: StoredItem
    sources: tuple[str, ...]
    verification: Verification | None = None


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a database lock (`service`: a running `monitor serve`; `poll`: a poll in progress)."""

    name: str
    owner: str
    host: str
    pid: int
    purpose: str
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """A poll cycle as stored: when, what it polled, how it went, which sources failed and why."""

    id: int
    trigger: str  # serve | once
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | ok | partial | failed | interrupted | crashed | abandoned
    sources: int
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    new: int = 0
    duplicate: int = 0
    unchanged: int = 0
    failures: tuple[tuple[str, str], ...] = ()
    verifier: VerifierReport | None = None


@dataclass(frozen=True, slots=True)
class DigestRecord:
    id: int
    period_start: datetime
    period_end: datetime
    path: str | None
    item_count: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A digest on one channel (file, email, atom): `sent` once delivered, else `failed` with why."""

    digest_id: int
    channel: str
    status: str  # sent | failed
    attempts: int
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterUpdate:
    """What near-duplicate and story detection decided for one item."""

    item_id: int
    signature: bytes | None
    duplicate_of: int | None
    story_id: int
    new_story: tuple[str, str, datetime] | None = None  # title, lang, first seen: when it starts one


@dataclass(frozen=True, slots=True)
class StoredStory:
    """A story with its items, first first."""

    id: int
    title: str
    lang: str
    first_seen_at: datetime
    items: tuple[StoredItem, ...]

    @property
    def outlets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.source_id for i in self.items))

    @property
    def titles(self) -> dict[str, str]:
        """Its title in each language it was reported in (`titles_by_language`)."""
        return titles_by_language(self.items)

    @property
    def latest_at(self) -> datetime:
        return max((i.published_at for i in self.items), default=self.first_seen_at)


def titles_by_language(items: Sequence[StoredItem]) -> dict[str, str]:
    """The title of the first original report in each language (by primary subtag: "zh" for
    both scripts), in the order the languages first reported: a reader of either language
    sees the story under a headline they can read."""
    titles: dict[str, str] = {}
    for item in sorted(items, key=lambda i: (i.duplicate_of is not None, i.published_at, i.id)):
        titles.setdefault(item.lang.split("-")[0].lower() or "und", item.title)
    return titles


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One message on one notification channel, as the ledger holds it (docs/digests.md, "Alerts
    and other channels"): `pending`, `sending` (an attempt began; found so after a crash, it may
    have been delivered), `sent`, or `failed` (tried again from `next_attempt_at`)."""

    id: int
    channel: str
    key: str
    kind: str
    title: str
    body: str
    attach: str | None
    status: str
    attempts: int
    interrupted: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    sent_at: datetime | None
