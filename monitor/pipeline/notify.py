"""A notification pass: find what there is to tell (alerts, source health, the latest digest),
add it to the ledger once per channel, then send what is due, each message once.

The one entry point for the command line and the service: `notify_pass`. It runs under the
database lock `notify`, so two processes never send the same message. Every pass looks at the
state afresh, so nothing depends on the pass that made the state: a crash between a digest and
its notice, or a flag and its alert, is made good by the next pass.

Exactly once, and where the window lies: an attempt is committed as `sending` before the send
and as `sent` after. A process killed after the receiver took the message and before `sent` was
committed leaves the row `sending`; the next pass sends it again, once, marked as a possible
repeat (title `[repeat]`, a line saying why, a warning in the log). So a message is never lost,
and a crash can double it at most once, saying so; it is never doubled silently."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from monitor.config import Config
from monitor.errors import DeliveryError
from monitor.pipeline.digest import make_digest
from monitor.records import NotificationRecord, StoredFlag
from monitor.settings import NotifyTarget
from monitor.storage import SqlRepository
from monitor.storage.lock import DbLock, Heartbeat, LockHeldError, LockOwner
from monitor.tell.channel import Channel
from monitor.tell.notices import Notice, alert_notices, digest_notice, for_target, health_notices, iso
from monitor.tell.status import NotifyStatus

log = logging.getLogger(__name__)
NOTIFY_LOCK = "notify"
DIGEST_MARK = "apprise"  # a digest delivery row: the digest is to be told on [[notify]] channels
REPEAT_NOTE = (
    "(This may repeat an earlier message: the last attempt was cut short after it may have been "
    "delivered and before that was recorded.)"
)


@dataclass(frozen=True, slots=True)
class Route:
    """A channel: one URL of one target, named by the target's id and a hash of the URL as
    written (`${VAR}` unresolved: no secret in it), so that reordering URLs changes nothing."""

    channel: str
    target: NotifyTarget
    url: str


@dataclass
class NotifyReport:
    """What a pass did: messages added to the ledger, sent, failed (with why), sent again
    after a crash, and whether another process held the lock."""

    added: int = 0
    sent: list[NotificationRecord] = field(default_factory=list)
    failed: list[NotificationRecord] = field(default_factory=list)
    repeated: list[NotificationRecord] = field(default_factory=list)
    busy: str | None = None


def channel_id(target: NotifyTarget, url: str) -> str:
    return f"{target.id}/{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def routes(targets: Sequence[NotifyTarget]) -> list[Route]:
    return [Route(channel_id(t, url), t, url) for t in targets if t.enabled for url in t.urls]


def retry_delay(attempts: int, base: int, cap: int) -> timedelta:
    """Exponential backoff: `base` after the first failure, doubled each time, at most `cap`."""
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), max(cap, base)))


def notify_pass(config: Config, repo: SqlRepository, channel: Channel, now: datetime) -> NotifyReport:
    """Add what there is to tell to the ledger, then send what is due. Nothing to do without
    `[[notify]]` targets; a pass that finds the lock taken does nothing and says who holds it."""
    paths = routes(config.settings.notify)
    if not paths:
        return NotifyReport()
    lock = DbLock(repo.engine, NOTIFY_LOCK, LockOwner.this_process(), ttl=config.settings.service.lock_ttl)
    try:
        lock.acquire("notifications")
    except LockHeldError as e:
        return NotifyReport(busy=str(e))
    try:
        with Heartbeat(config.settings.service.lock_ttl / 4) as heartbeat:
            heartbeat.add(lock)
            report = NotifyReport(added=enqueue(config, repo, paths, now))
            deliver_due(repo, channel, paths, now, report)
            return report
    finally:
        lock.release()


def digest_targets(config: Config) -> bool:
    """Whether any enabled `[[notify]]` target receives the digest."""
    return any(t.enabled and "digest" in t.receives for t in config.settings.notify)


def tell_digest(config: Config, repo: SqlRepository, channel: Channel, digest_id: int, now: datetime) -> NotifyReport:
    """After a digest made to be sent (the service's, `monitor digest --send`): mark it to be
    told, then run a pass, which queues its notice on each digest channel and sends it."""
    if not digest_targets(config):
        return NotifyReport()
    repo.record_delivery(digest_id, DIGEST_MARK, at=now, detail="queued for [[notify]] channels")
    return notify_pass(config, repo, channel, now)


def enqueue(config: Config, repo: SqlRepository, paths: Sequence[Route], now: datetime) -> int:
    """Add each route's notices to the ledger (a key it holds already is skipped)."""
    kinds = {kind for p in paths for kind in p.target.receives}
    flags = repo.list_flags() if kinds & {"alert", "digest"} else []
    names = {s.id: s.label for s in config.sources}
    added = 0
    for path in paths:
        for notice in for_target(path.target, notices_for(config, repo, path, flags, names, now)):
            added += repo.enqueue_notification(
                path.channel,
                notice.key,
                kind=notice.kind,
                title=notice.title,
                body=notice.body,
                attach=str(notice.attach) if notice.attach else None,
                at=now,
            )
    return added


def notices_for(
    config: Config,
    repo: SqlRepository,
    path: Route,
    flags: Sequence[StoredFlag],
    names: Mapping[str, str],
    now: datetime,
) -> list[Notice]:
    target = path.target
    notices: list[Notice] = []
    if "alert" in target.receives:
        verified_only = config.settings.judge.verifier.kind != "off"
        claims = config.registry.claims
        notices += alert_notices(flags, claims, names, now, verified_only=verified_only, max_age=target.alert_max_age)
    if "health" in target.receives:
        states = repo.source_states([s.id for s in config.sources if s.enabled])
        known = repo.notification_keys(path.channel, "health:")
        notices += health_notices(states, names, now, after=target.health_after, known=known)
    if "digest" in target.receives:
        notices += latest_digest(config, repo, path, flags, now)
    return notices


def latest_digest(
    config: Config, repo: SqlRepository, path: Route, flags: Sequence[StoredFlag], now: datetime
) -> list[Notice]:
    """The newest digest's notice, if the channel lacks it and it is recent (`alert_max_age`):
    rebuilt from the store, so a digest made just before a crash is still told."""
    digests = repo.digests()
    if not digests:
        return []
    record = digests[-1]
    if DIGEST_MARK not in repo.deliveries(record.id):
        return []  # made by `monitor digest` without --send: written, not told
    if record.period_end < now - timedelta(seconds=path.target.alert_max_age):
        return []
    if repo.notification_keys(path.channel, f"digest:{iso(record.period_end)}"):
        return []
    digest = make_digest(repo, config, record.period_start, record.period_end, flags)
    if digest.empty and not config.settings.email.send_empty:
        return []  # as for the e-mail: a period with nothing new is not sent
    file = Path(record.path) if record.path else config.digest_dir / f"{record.period_end:%Y-%m-%d}.md"
    return [digest_notice(digest, file, attach=path.target.attach_digest)]


def message(record: NotificationRecord) -> tuple[str, str]:
    """The title and body to send: as queued, marked as a possible repeat after a crash."""
    if record.interrupted:
        return f"[repeat] {record.title}", f"{record.body}\n\n{REPEAT_NOTE}"
    return record.title, record.body


def deliver_due(
    repo: SqlRepository, channel: Channel, paths: Sequence[Route], now: datetime, report: NotifyReport
) -> None:
    """Send each due message once: `sending` committed first, then the send, then `sent` (or
    `failed`, due again after a backoff)."""
    by_channel = {p.channel: p for p in paths}
    for due in repo.due_notifications(by_channel, now):
        path = by_channel[due.channel]
        record = repo.begin_notification(due.id, now)
        repeat = record.interrupted > 0  # a crash cut an attempt short: it may have arrived
        title, body = message(record)
        if repeat:
            log.warning("event=notify_repeat channel=%s key=%s reason=cut_short_by_a_crash", due.channel, due.key)
        try:
            channel.send(path.url, title, body, Path(record.attach) if record.attach else None)
        except DeliveryError as e:
            retry_at = now + retry_delay(record.attempts, path.target.retry, path.target.retry_max)
            done = repo.finish_notification(record.id, now, error=str(e), retry_at=retry_at)
            log.warning(
                "event=notify_failed channel=%s key=%s attempts=%d retry_at=%s error=%r",
                due.channel,
                due.key,
                done.attempts,
                retry_at.isoformat(),
                str(e),
            )
            report.failed.append(done)
            continue
        done = repo.finish_notification(record.id, now)
        log.info("event=notify_sent channel=%s key=%s attempts=%d", due.channel, due.key, done.attempts)
        report.sent.append(done)
        if repeat:
            report.repeated.append(done)


def notify_status(config: Config, repo: SqlRepository) -> NotifyStatus | None:
    """What `monitor status` shows of the ledger; None without [[notify]] targets."""
    if not config.settings.notify:
        return None
    return NotifyStatus(repo.notification_counts(), tuple(repo.unsent_notifications()))
