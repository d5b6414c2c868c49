"""Read the config directory (monitor.toml, sources.toml, claims.toml) and the environment.

The one place that reads configuration. Every problem becomes a `ConfigError` naming the
file, the line where it can be found, the entry (source or claim id) and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import make_url

from monitor.errors import ConfigError
from monitor.judge.registry import Article, Registry
from monitor.keep.default_topic import DEFAULT_TOPIC
from monitor.keep.relevance import Topic
from monitor.settings import NotifyTarget, Settings, Source, notify_url_problem
from monitor.storage.db import check_database_url
from monitor.tell.channel import apprise_url_problem

ENV_CONFIG = "MONITOR_CONFIG"
ENV_DATABASE_URL = "MONITOR_DATABASE_URL"
SETTINGS_FILE = "monitor.toml"
SOURCES_FILE = "sources.toml"
CLAIMS_FILE = "claims.toml"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    dir: Path
    settings: Settings
    sources: list[Source]
    registry: Registry
    database_url: str
    storage_dir: Path
    digest_dir: Path
    topic: Topic


def resolve_config_dir(arg: str | None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(arg or env.get(ENV_CONFIG) or "config")


def load_config(config_dir: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Config:
    """Load and validate the whole config; raise ConfigError on the first problem."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    if not config_dir.is_dir():
        raise ConfigError(config_dir, "config directory not found (use --config DIR or MONITOR_CONFIG)")
    settings_path = config_dir / SETTINGS_FILE
    raw_settings = _read_toml(settings_path, required=False)
    raw_topic = raw_settings.pop("topic", None)
    raw_notify = {"notify": raw_settings.pop("notify", [])}
    settings = _validate(Settings, raw_settings, settings_path, ())
    settings = settings.model_copy(update={"notify": _notify_targets(raw_notify, settings_path)})
    topic = DEFAULT_TOPIC if raw_topic is None else _validate(Topic, raw_topic, settings_path, (), prefix="topic")
    sources = _load_entries(config_dir / SOURCES_FILE, "source", Source, required=True)
    registry = load_registry(config_dir / CLAIMS_FILE)
    storage_dir = (cwd / settings.storage.dir).resolve()
    digest_dir = _inside(storage_dir, settings.digest.dir, settings_path, "digest", "dir")
    database_url = _database_url(env, settings.database.url, storage_dir, cwd, settings_path)
    return Config(config_dir, settings, sources, registry, database_url, storage_dir, digest_dir, topic)


def _notify_targets(doc: dict[str, Any], path: Path) -> tuple[NotifyTarget, ...]:
    """`[[notify]]` tables: each validated like a source (file, line, entry, key), ids unique,
    and each URL's scheme one that Apprise knows (Apprise is loaded only when there are some)."""
    lines = _KeyLines(_text(path))
    for index, data in enumerate(_array_of_tables(doc, path, "notify")):
        urls = data.get("urls") if isinstance(data, dict) else None
        for url in urls if isinstance(urls, list) else ():
            # checked before the model, whose message would quote the URL, and with it a password
            if isinstance(url, str) and (problem := notify_url_problem(url)):
                entry = _entry_name(data, f"notify #{index + 1}")
                raise ConfigError(path, problem, line=lines.find("notify", index, "urls"), entry=entry, key="urls")
    targets = tuple(_entries(doc, path, lines, "notify", NotifyTarget))
    for index, target in enumerate(targets):
        for url in target.urls:
            if problem := apprise_url_problem(url):
                raise ConfigError(path, problem, line=lines.find("notify", index, "urls"), entry=target.id, key="urls")
    return targets


def _database_url(env: Mapping[str, str], configured: str | None, storage_dir: Path, cwd: Path, path: Path) -> str:
    """MONITOR_DATABASE_URL, else `[database] url`, else SQLite under the storage directory.
    Either must be a URL the monitor can use; a SQLite file set in monitor.toml must lie under
    the storage directory (the environment, an operator's, may put it anywhere)."""
    if env.get(ENV_DATABASE_URL):
        if reason := check_database_url(env[ENV_DATABASE_URL]):
            raise ConfigError(ENV_DATABASE_URL, reason)
        return env[ENV_DATABASE_URL]
    if not configured:
        return f"sqlite:///{storage_dir / 'monitor.db'}"
    line = _KeyLines(_text(path)).find("database", 0, "url")
    if reason := check_database_url(configured):
        raise ConfigError(path, reason, line=line, key="database.url")
    url = make_url(configured)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        target = (cwd / str(url.database)).resolve()
        if not target.is_relative_to(storage_dir):
            message = f"the SQLite file {target} is outside the storage directory {storage_dir}"
            raise ConfigError(path, message, line=line, key="database.url")
    return configured


def _inside(storage_dir: Path, sub: str, path: Path, table: str, key: str) -> Path:
    """Resolve `sub` under the storage directory; the monitor writes nowhere else."""
    target = (storage_dir / sub).resolve()
    if not target.is_relative_to(storage_dir):
        line = _KeyLines(_text(path)).find(table, 0, key)
        raise ConfigError(
            path, f"{sub!r} is outside the storage directory {storage_dir}", line=line, key=f"{table}.{key}"
        )
    return target


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _read_toml(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ConfigError(path, "file not found")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(path, f"not UTF-8 text ({e.reason})") from e
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column \d+\)", str(e))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise ConfigError(path, f"invalid TOML: {message}", line=int(m[1]) if m else None) from e
    except OSError as e:
        raise ConfigError(path, f"cannot read: {e.strerror}") from e


def _load_entries(path: Path, table: str, model: type[M], *, required: bool) -> list[M]:
    """Validate each `[[table]]` entry; ids must be unique, other top-level keys are errors."""
    doc = _read_toml(path, required=required)
    lines = _KeyLines(_text(path))
    _only_tables(doc, path, lines, (table,))
    return _entries(doc, path, lines, table, model)


def load_sources(path: Path) -> list[Source]:
    """A sources.toml alone, validated as `load_config` validates it (`sources import` checks
    the file it is about to put in place)."""
    return _load_entries(path, "source", Source, required=True)


# The keys an `[[article]]` may hold: `body` is a field of the model, read from `text`, never
# written in the file.
ARTICLE_KEYS = ("id", "title", "published", "language", "text", "url", "claim")

# What a file written for the rule-based matcher is told: its tables are unknown now.
_OLD_FORMAT = {
    "claim": "claims now go in [[article.claim]] tables; see docs/claims-and-judge.md",
    "entity": "the registry holds articles and their claims as text, no entities; see docs/claims-and-judge.md",
}


def load_registry(path: Path, *, bodies: Mapping[str, str] | None = None) -> Registry:
    """claims.toml: `[[article]]` tables, each with its `[[article.claim]]` tables; an article's
    `text` file (relative to the directory of claims.toml) is read into its `body`. `bodies`
    stands in for text files not written yet, by their `text` path: `claims import` validates
    its whole result before it writes anything."""
    doc = _read_toml(path, required=False)
    lines = _KeyLines(_text(path))
    _only_tables(doc, path, lines, ("article",), hints=_OLD_FORMAT)
    articles: list[Article] = []
    for index, data in enumerate(_array_of_tables(doc, path, "article")):
        article = _validate_article(data, index, path, lines)
        _check_unique(article, index, articles, path, lines)
        articles.append(_with_body(article, index, path, lines, bodies or {}))
    return Registry(articles=tuple(articles))


def _validate_article(data: Any, index: int, path: Path, lines: _KeyLines) -> Article:
    entry = _entry_name(data, f"article #{index + 1}")
    for key in data if isinstance(data, dict) else ():
        if key not in ARTICLE_KEYS:
            raise ConfigError(path, "unknown key", line=lines.find("article", index, key), entry=entry, key=key)
    try:
        return Article.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = err["loc"]
        if len(loc) >= 2 and loc[0] == "claim" and isinstance(loc[1], int):
            raise _claim_error(err, data, index, path, lines) from e
        key = ".".join(str(part) for part in loc) or None
        line = lines.find("article", index, str(loc[0]) if loc else None)
        raise ConfigError(path, _describe(err), line=line, entry=entry, key=key) from e


def _claim_error(err: Any, article: dict[str, Any], index: int, path: Path, lines: _KeyLines) -> ConfigError:
    """A mistake inside the n-th `[[article.claim]]` of an article, at the line of its key."""
    nth: int = err["loc"][1]
    claims = article.get("claim")
    data = claims[nth] if isinstance(claims, list) and nth < len(claims) else None
    entry = _entry_name(data, f"{_entry_name(article, f'article #{index + 1}')} claim #{nth + 1}")
    key = ".".join(str(part) for part in err["loc"][2:]) or None
    line = _claim_line(lines, index, nth, key)
    return ConfigError(path, _describe(err), line=line, entry=entry, key=key or "claim")


def _claim_line(lines: _KeyLines, article: int, nth: int, key: str | None) -> int | None:
    """The line of `key` in the article's n-th claim table (claim tables are counted across the
    articles of the file), else the line of the article's `claim` key or of its header."""
    overall = lines.nth_child("article", article, "article.claim", nth)
    found = None if overall is None else lines.find("article.claim", overall, key.split(".")[0] if key else None)
    return found or lines.find("article", article, "claim")


def _entry_name(data: Any, fallback: str) -> str:
    return data["id"] if isinstance(data, dict) and isinstance(data.get("id"), str) else fallback


def _check_unique(article: Article, index: int, before: Sequence[Article], path: Path, lines: _KeyLines) -> None:
    """Article ids are unique in the file, claim ids across all its articles: a flag names a
    claim by its id alone."""
    if any(a.id == article.id for a in before):
        raise ConfigError(
            path, "duplicate article id", line=lines.find("article", index, "id"), entry=article.id, key="id"
        )
    owners = {c.id: a.id for a in before for c in a.claims}
    for nth, claim in enumerate(article.claims):
        if claim.id in owners:
            message = f"duplicate claim id (already a claim of article {owners[claim.id]!r})"
            raise ConfigError(path, message, line=_claim_line(lines, index, nth, "id"), entry=claim.id, key="id")
        owners[claim.id] = article.id


def _with_body(article: Article, index: int, path: Path, lines: _KeyLines, bodies: Mapping[str, str]) -> Article:
    """The article with its text file read into `body`; a problem with the file is reported at
    the `text` key that names it."""
    if article.text is None:
        return article
    file = path.parent / article.text

    def problem(message: str) -> ConfigError:
        line = lines.find("article", index, "text")
        return ConfigError(path, f"the article text {file} {message}", line=line, entry=article.id, key="text")

    try:
        body = bodies[article.text] if article.text in bodies else file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise problem(f"is not UTF-8 ({e.reason} at byte {e.start})") from e
    except OSError as e:
        raise problem(f"cannot be read: {e.strerror}") from e
    if not body.strip():
        raise problem("is empty")
    return article.model_copy(update={"body": body})


def _only_tables(
    doc: dict[str, Any], path: Path, lines: _KeyLines, tables: tuple[str, ...], hints: Mapping[str, str] | None = None
) -> None:
    for key in doc:
        if key not in tables:
            expected = " or ".join(f"[[{t}]]" for t in tables)
            hint = f": {hints[key]}" if hints and key in hints else ""
            raise ConfigError(
                path,
                f"unknown top-level key (expected {expected} tables){hint}",
                line=lines.find(None, None, key),
                key=key,
            )


def _array_of_tables(doc: dict[str, Any], path: Path, table: str) -> list[Any]:
    raw = doc.get(table, [])
    if not isinstance(raw, list):
        raise ConfigError(path, f"must be an array of tables ([[{table}]])", key=table)
    return raw


def _entries(doc: dict[str, Any], path: Path, lines: _KeyLines, table: str, model: type[M]) -> list[M]:
    entries: list[M] = []
    seen: dict[str, int] = {}
    for index, data in enumerate(_array_of_tables(doc, path, table)):
        entry = _validate(model, data, path, (table, index), lines=lines)
        entry_id = str(entry.model_dump()["id"])
        if entry_id in seen:
            raise ConfigError(
                path,
                f"duplicate id (first used by {table} #{seen[entry_id] + 1})",
                line=lines.find(table, index, "id"),
                entry=entry_id,
                key="id",
            )
        seen[entry_id] = index
        entries.append(entry)
    return entries


def _validate(
    model: type[M],
    data: dict[str, Any],
    path: Path,
    where: tuple[str, int] | tuple[()],
    lines: _KeyLines | None = None,
    prefix: str | None = None,
) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = [str(part) for part in err["loc"]]
        lines = lines or _KeyLines(_text(path))
        entry = None
        if where:
            table, index = where
            entry = str(data.get("id")) if isinstance(data.get("id"), str) else f"{table} #{index + 1}"
            line = lines.find(table, index, loc[0] if loc else None)
        elif prefix and len(loc) > 1 and loc[1].isdigit():  # an entry of an array of tables, e.g. [[topic.group]]
            line = lines.find(f"{prefix}.{loc[0]}", int(loc[1]), loc[2] if len(loc) > 2 else None)
        elif prefix:
            line = lines.find(prefix, 0, loc[0] if loc else None)
        else:
            line = lines.find(loc[0] if len(loc) > 1 else None, 0 if len(loc) > 1 else None, loc[-1] if loc else None)
        key = ".".join(([prefix] if prefix else []) + loc) or None
        raise ConfigError(path, _describe(err), line=line, entry=entry, key=key) from e


def _describe(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{message} (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else message


class _KeyLines:
    """Find the line of a key in TOML text: enough of TOML to point a user at their mistake."""

    _header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    _key = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]+\")\s*=")

    def __init__(self, text: str) -> None:
        self.keys: dict[tuple[str | None, int | None, str | None], int] = {}
        # (parent table, its index, child table) -> the indices of the child's tables under it
        self.children: dict[tuple[str, int, str], list[int]] = {}
        table: str | None = None
        index: int | None = None
        counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if m := self._header.match(line):
                table = m[2]
                if m[1] == "[[":
                    index = counts.get(table, -1) + 1
                    counts[table] = index
                    parent = table.rpartition(".")[0]
                    if parent in counts:
                        self.children.setdefault((parent, counts[parent], table), []).append(index)
                else:
                    index = 0
                self.keys.setdefault((table, index, None), number)
                self.keys.setdefault((None, None, table), number)
            elif m := self._key.match(line):
                self.keys.setdefault((table, index, m[1].strip('"')), number)

    def find(self, table: str | None, index: int | None, key: str | None) -> int | None:
        return self.keys.get((table, index, key)) or self.keys.get((table, index, None))

    def nth_child(self, parent: str, parent_index: int, child: str, nth: int) -> int | None:
        """The index, counted across the file, of the n-th `[[child]]` table under the given
        `[[parent]]` one (`[[article.claim]]` tables are numbered across articles)."""
        found = self.children.get((parent, parent_index, child), [])
        return found[nth] if nth < len(found) else None
