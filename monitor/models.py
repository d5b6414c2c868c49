"""Domain types shared by every stage: configuration models and the records of a poll.

Imports nothing of ours. Config models are pydantic (validated at load, unknown keys
rejected); pipeline records are frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

import soupsieve
from pydantic import BaseModel, ConfigDict, Field, field_validator

SourceKind = Literal["feed", "page"]
Lang = Literal["en", "zh-Hans", "zh-Hant"]
PollStatus = Literal["ok", "not_modified", "error"]
ArticleMode = Literal["relevant", "all", "never"]

DEFAULT_USER_AGENT = (
    "claim-monitor/0.1 (+https://github.com/claim-monitor/monitor; news monitor for AI-chip export controls)"
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PageSelectors(Strict):
    """How to read a listing page; every selector is CSS and optional."""

    item: str | None = None
    link: str | None = None
    title: str | None = None
    date: str | None = None
    summary: str | None = None
    date_format: str | None = None

    @field_validator("item", "link", "title", "date", "summary")
    @classmethod
    def _css(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                soupsieve.compile(value)
            except soupsieve.SelectorSyntaxError as e:
                raise ValueError(f"invalid CSS selector: {str(e).splitlines()[0]}") from e
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError("must be a strptime format such as %Y-%m-%d")
        return value


class Source(Strict):
    """One `[[source]]` table of sources.toml."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)
    url: str
    kind: SourceKind
    name: str | None = None
    lang: Lang | None = None
    interval: int | None = Field(default=None, ge=60, description="seconds between polls")
    enabled: bool = True
    article: ArticleMode | None = Field(
        default=None, description="whose linked article to fetch (default: [poll] article)"
    )
    selectors: PageSelectors | None = Field(default=None, description="how to read a page source")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def label(self) -> str:
        return self.name or self.id

    @property
    def host(self) -> str | None:
        return urlsplit(self.url).hostname


class DatabaseSettings(Strict):
    url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite under storage")


class StorageSettings(Strict):
    dir: str = "storage"


class HttpSettings(Strict):
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = Field(default=20.0, gt=0, description="seconds per network operation")
    deadline: float = Field(default=60.0, gt=0, description="seconds for a whole download")
    max_connections: int = Field(default=16, ge=1)
    per_host: int = Field(default=2, ge=1)
    max_bytes: int = Field(default=10_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    allow_private: bool = Field(default=False, description="let followed links reach private addresses")


class PollSettings(Strict):
    interval: int = Field(default=3600, ge=60, description="default seconds between polls")
    future_tolerance: int = Field(default=3600, ge=0, description="seconds a date may lie ahead")
    article: ArticleMode = Field(default="relevant", description="whose linked article to fetch")


class DigestSettings(Strict):
    dir: str = "digests"
    title: str = "AI-chip export controls: daily digest"


class Settings(Strict):
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    poll: PollSettings = PollSettings()
    digest: DigestSettings = DigestSettings()


class Claim(Strict):
    """One `[[claim]]` table of claims.toml (the registry grows in a later stage)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    text_zh: str | None = None
    statement_en: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one download gave: a body (200), nothing new (304), never an error."""

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


@dataclass(slots=True)
class StoreCounts:
    new: int = 0
    duplicate: int = 0
    unchanged: int = 0


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


@dataclass(frozen=True, slots=True)
class CycleReport:
    started_at: datetime
    finished_at: datetime
    outcomes: list[SourceOutcome]

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
