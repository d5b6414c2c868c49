"""A digest run: build the digest of a period, write it (Markdown, Atom), mail it, record each
delivery. The one entry point for the command line and the scheduler: `run_digest`.

A digest is identified by its period. Its file is (re)written on every run of that period;
its e-mail is sent once: a delivery recorded as sent is never sent again, a failed one is
retried on the next run that sends (the e-mail of that earlier period, rebuilt from the
store). An empty period is mailed only with `[email] send_empty = true`. Sending happens
under the database lock `digest`, so the service and a `monitor digest --send` never send
the same digest twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment

from monitor.config import SETTINGS_FILE, Config
from monitor.errors import ConfigError, DeliveryError
from monitor.judge.standing import standings
from monitor.records import DigestRecord, StoredFlag
from monitor.settings import DigestSettings, EmailSettings
from monitor.storage import SqlRepository
from monitor.storage.lock import DbLock, Heartbeat, LockHeldError, LockOwner
from monitor.tell.build import Digest, DigestInput, build_digest
from monitor.tell.deliver import write_file
from monitor.tell.feed import FEED_FILE, build_feed
from monitor.tell.message import compose_message
from monitor.tell.render import RenderedEmail, environment, render_email, render_feed, render_markdown
from monitor.tell.smtp import Mailer, SmtpMailer

log = logging.getLogger(__name__)
DIGEST_LOCK = "digest"
FILE, EMAIL, ATOM = "file", "email", "atom"
Period = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class EmailOutcome:
    """What became of one digest's e-mail on this run."""

    digest_id: int | None
    start: datetime
    end: datetime
    status: str  # sent | failed | already sent | empty | not requested
    error: str | None = None
    recipients: tuple[str, ...] = ()
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    digest_id: int
    start: datetime
    end: datetime
    digest: Digest
    path: Path
    feed_path: Path | None
    email: EmailOutcome
    retried: tuple[EmailOutcome, ...] = ()  # earlier digests whose e-mail was retried
    feed_error: str | None = None

    @property
    def failures(self) -> list[str]:
        """One line per delivery that failed on this run."""
        lines = [f"e-mail of {_period(e.start, e.end)}: {e.error}" for e in (*self.retried, self.email) if e.error]
        return lines + ([f"Atom feed: {self.feed_error}"] if self.feed_error else [])


@dataclass(frozen=True, slots=True)
class Preview:
    """What `run_digest(..., send=True)` would send now, without writing or sending anything."""

    digest: Digest
    email: RenderedEmail
    recipients: tuple[str, ...]
    would_send: bool
    reason: str
    pending: tuple[DigestRecord, ...]  # earlier digests whose e-mail would be retried


def default_period(repo: SqlRepository, settings: DigestSettings, now: datetime) -> Period:
    """From the end of the last digest (or `lookback` before now) to now."""
    start = repo.last_digest_end() or now - timedelta(seconds=settings.lookback)
    return min(start, now), now


def run_digest(
    config: Config,
    repo: SqlRepository,
    now: datetime,
    send: bool,
    *,
    period: Period | None = None,
    out_dir: Path | None = None,
    mailer: Mailer | None = None,
    env: Mapping[str, str] | None = None,
) -> DigestOutcome:
    """Make the digest of `period` (default: since the last digest): write the Markdown file
    and the Atom feed, and with `send`, mail it and retry earlier failed e-mails.

    Raises ConfigError when `send` is asked without `[email]` settings, DeliveryError when the
    file cannot be written. A failed e-mail is not an exception: it is recorded (and retried
    on the next run) and reported in the outcome."""
    settings = config.settings
    if send and not settings.email.configured:
        raise ConfigError(
            config.dir / SETTINGS_FILE, "no e-mail settings: set host, sender and recipients", key="email.host"
        )
    start, end = period or default_period(repo, settings.digest, now)
    templates = environment(config.dir)
    all_flags = repo.list_flags()
    digest = make_digest(repo, config, start, end, all_flags)
    directory = out_dir or config.digest_dir
    record, path = write_markdown(repo, digest, directory, templates, now)
    if send:
        mailer = mailer or SmtpMailer.from_environment(settings.email, os.environ if env is None else env)
        retried, email = send_emails(repo, config, templates, mailer, record, digest, all_flags, now)
    else:
        retried, email = (), EmailOutcome(record.id, start, end, "not requested")
    feed_path, feed_error = None, None
    if settings.digest.feed:
        feed_path, feed_error = write_feed(repo, config, templates, directory, record, all_flags, now)
    return DigestOutcome(record.id, start, end, digest, path, feed_path, email, retried, feed_error)


def preview_digest(config: Config, repo: SqlRepository, now: datetime, *, period: Period | None = None) -> Preview:
    """The e-mail `run_digest(send=True)` would send for the period: nothing written, nothing sent."""
    email = config.settings.email
    start, end = period or default_period(repo, config.settings.digest, now)
    digest = make_digest(repo, config, start, end, repo.list_flags())
    rendered = render_email(digest, environment(config.dir), prefix=email.subject_prefix)
    existing = repo.find_digest(start, end)
    sent = existing is not None and _sent(repo, existing.id)
    would, reason = _would_send(email, digest, sent)
    pending = tuple(d for d, _ in repo.undelivered(EMAIL) if existing is None or d.id != existing.id)
    return Preview(digest, rendered, email.recipients, would, reason, pending)


def make_digest(
    repo: SqlRepository, config: Config, start: datetime, end: datetime, all_flags: Sequence[StoredFlag]
) -> Digest:
    """Gather what the store holds for [start, end) and build the digest."""
    items = repo.list_items(since=start, until=end, by="fetched")
    originals = [i.id for i in items if i.duplicate_of is None and i.relevant]
    claims = config.registry.claims
    data = DigestInput(
        items=items,
        copies=repo.duplicates_of(originals) if originals else {},
        flags=[f for f in all_flags if start <= f.created_at < end],
        claims=claims,
        statuses={s.claim.id: s.status for s in standings(claims, all_flags)},
        sources=repo.source_states([s.id for s in config.sources if s.enabled]),
        names={s.id: s.label for s in config.sources},
    )
    d = config.settings.digest
    return build_digest(d.title, start, end, data, top=d.top_stories, others=d.other_items)


def write_markdown(
    repo: SqlRepository, digest: Digest, directory: Path, templates: Environment, now: datetime
) -> tuple[DigestRecord, Path]:
    """Write the digest's Markdown file, then record the digest and the file's delivery."""
    name = file_name(repo, directory, digest.start, digest.end)
    path = write_file(directory, name, render_markdown(digest, templates))
    record = repo.save_digest(start=digest.start, end=digest.end, path=str(path), item_count=digest.item_count, at=now)
    repo.record_delivery(record.id, FILE, at=now, detail=str(path))
    return record, path


def file_name(repo: SqlRepository, directory: Path, start: datetime, end: datetime) -> str:
    """`YYYY-MM-DD.md` by the period's end; the same file for the same period; a time is added
    when another period's digest already has the day's name."""
    existing = repo.find_digest(start, end)
    for name in (f"{end:%Y-%m-%d}.md", f"{end:%Y-%m-%d-%H%M}.md", f"{end:%Y-%m-%d-%H%M%S}.md"):
        owner = repo.digest_path_owner(str(directory / name))
        if owner is None or (existing is not None and owner == existing.id):
            return name
    return f"{end:%Y-%m-%d-%H%M%S-%f}.md"


def send_emails(
    repo: SqlRepository,
    config: Config,
    templates: Environment,
    mailer: Mailer,
    record: DigestRecord,
    digest: Digest,
    all_flags: Sequence[StoredFlag],
    now: datetime,
) -> tuple[tuple[EmailOutcome, ...], EmailOutcome]:
    """Under the digest lock: retry earlier failed e-mails, then send this digest's."""
    lock = DbLock(repo.engine, DIGEST_LOCK, LockOwner.this_process(), ttl=config.settings.service.lock_ttl)
    try:
        lock.acquire("digest e-mail")
    except LockHeldError as e:
        busy = f"not sent: another process is sending digests ({e}); the next run sends it"
        log.warning("event=email_busy digest=%d", record.id)
        return (), _record_failure(repo, record, busy, now)
    try:
        with Heartbeat(config.settings.service.lock_ttl / 4) as heartbeat:
            heartbeat.add(lock)
            retried = tuple(
                send_email(
                    repo, config, templates, mailer, earlier, make_digest_of(repo, config, earlier, all_flags), now
                )
                for earlier, _ in repo.undelivered(EMAIL)
                if earlier.id != record.id
            )
            return retried, send_email(repo, config, templates, mailer, record, digest, now)
    finally:
        lock.release()


def make_digest_of(repo: SqlRepository, config: Config, record: DigestRecord, flags: Sequence[StoredFlag]) -> Digest:
    return make_digest(repo, config, record.period_start, record.period_end, flags)


def send_email(
    repo: SqlRepository,
    config: Config,
    templates: Environment,
    mailer: Mailer,
    record: DigestRecord,
    digest: Digest,
    now: datetime,
) -> EmailOutcome:
    """Send one digest's e-mail unless it was sent (or is empty and `send_empty` is off); record how it went."""
    email = config.settings.email
    start, end = record.period_start, record.period_end
    would, reason = _would_send(email, digest, _sent(repo, record.id))
    if not would:
        return EmailOutcome(record.id, start, end, reason)
    rendered = render_email(digest, templates, prefix=email.subject_prefix)
    assert email.sender is not None
    message = compose_message(
        rendered, sender=email.sender, recipients=email.recipients, date=now, start=start, end=end
    )
    try:
        refused = mailer.send(message)
    except DeliveryError as e:
        log.info("event=email_failed digest=%d error=%r", record.id, str(e))  # the caller reports it
        return _record_failure(repo, record, str(e), now)
    delivered = tuple(r for r in email.recipients if r not in refused)
    done = repo.record_delivery(record.id, EMAIL, at=now, detail=", ".join(delivered))
    log.info("event=email_sent digest=%d recipients=%d attempts=%d", record.id, len(delivered), done.attempts)
    return EmailOutcome(record.id, start, end, "sent", recipients=delivered, attempts=done.attempts)


def _record_failure(repo: SqlRepository, record: DigestRecord, error: str, now: datetime) -> EmailOutcome:
    done = repo.record_delivery(record.id, EMAIL, at=now, error=error)
    status = "sent" if done.status == "sent" else "failed"
    return EmailOutcome(
        record.id,
        record.period_start,
        record.period_end,
        status,
        error if status == "failed" else None,
        (),
        done.attempts,
    )


def _sent(repo: SqlRepository, digest_id: int) -> bool:
    delivery = repo.deliveries(digest_id).get(EMAIL)
    return delivery is not None and delivery.status == "sent"


def _would_send(email: EmailSettings, digest: Digest, sent: bool) -> tuple[bool, str]:
    if sent:
        return False, "already sent"
    if digest.empty and not email.send_empty:
        return False, "empty"
    return True, "to send"


def write_feed(
    repo: SqlRepository,
    config: Config,
    templates: Environment,
    directory: Path,
    record: DigestRecord,
    all_flags: Sequence[StoredFlag],
    now: datetime,
) -> tuple[Path | None, str | None]:
    """Rewrite the Atom feed of flags and digests beside the Markdown files; record it."""
    d = config.settings.digest
    feed = build_feed(
        d.title,
        now,
        flags=all_flags,
        digests=repo.digests(),
        claims=config.registry.claims,
        names={s.id: s.label for s in config.sources},
        feed_dir=directory,
        max_flags=d.feed_entries,
    )
    try:
        path = write_file(directory, FEED_FILE, render_feed(feed, templates))
    except DeliveryError as e:
        repo.record_delivery(record.id, ATOM, at=now, error=str(e))
        return None, str(e)
    repo.record_delivery(record.id, ATOM, at=now, detail=str(path))
    return path, None


def _period(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M} UTC"
