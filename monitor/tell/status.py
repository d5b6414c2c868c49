"""What `monitor status` reports: the service, next runs, the last cycle, each source's health,
the last digest, and whether the whole is healthy.

Pure: takes what storage knows (and `now`), returns a report. No I/O.

Healthy means: `monitor serve` holds its lock with a live heartbeat, and some enabled source
was polled successfully within `[service] unhealthy_after` of its intervals (a service that
started more recently than that is given the time). One failing source does not make the
service unhealthy; it is shown as failing, with its backoff.

A holder that was killed (kill -9) leaves its lock row and its cycle `running`: the caller says
which holders are gone (`monitor.storage.lock.why_gone`), and the report shows them, and a cycle
that no live holder of the poll lock started, as stale rather than running or in progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.records import CycleRecord, DigestRecord, LockHolder, NotificationRecord, SourceState
from monitor.settings import Settings, Source
from monitor.tell.schedule import cron_trigger, next_fire


@dataclass(frozen=True, slots=True)
class SourceHealth:
    id: str
    name: str
    enabled: bool
    interval: int
    state: str  # ok | not_modified | failing | never polled | disabled
    consecutive_errors: int
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    next_poll_at: datetime | None
    backoff_seconds: float | None  # the wait chosen after the last failure
    items: int


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StaleHolder:
    """A lock row whose holder is gone: nobody holds the lock; its next taker takes it over."""

    holder: LockHolder
    reason: str  # e.g. "pid 12 on host-a, which is no longer running"


@dataclass(frozen=True, slots=True)
class VerifierStatus:
    """The verifier in force (never its key): its server and model, and the items whose questions
    wait for a later cycle (the budget was spent, or the server could not be reached)."""

    model: str
    base_url: str
    api_key_env: str | None
    pending_items: int


@dataclass(frozen=True, slots=True)
class NotifyStatus:
    """The [[notify]] ledger: messages per status, and those tried and not sent (with why)."""

    counts: dict[str, int]
    unsent: tuple[NotificationRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusReport:
    now: datetime
    service: LockHolder | None
    service_running: bool
    poll: LockHolder | None
    timezone: str
    next_poll_at: datetime | None
    next_digest_at: datetime | None
    next_maintenance_at: datetime | None
    last_cycle: CycleRecord | None
    last_digest: DigestRecord | None
    sources: list[SourceHealth] = field(default_factory=list)
    health: Health = Health(True)
    service_stale: StaleHolder | None = None
    poll_stale: StaleHolder | None = None
    stale_cycle: str | None = None  # why the last cycle, `running`, is not: "running in pid 12, which ..."
    verifier: VerifierStatus | None = None
    notifications: NotifyStatus | None = None  # None: no [[notify]] targets


def build_status(
    *,
    now: datetime,
    settings: Settings,
    sources: Sequence[Source],
    states: Sequence[SourceState],
    service: LockHolder | None,
    poll: LockHolder | None,
    last_cycle: CycleRecord | None,
    last_digest: DigestRecord | None,
    service_gone: str | None = None,
    poll_gone: str | None = None,
    verify_pending: int = 0,
    notifications: NotifyStatus | None = None,
) -> StatusReport:
    """`service_gone`, `poll_gone`: why that lock's holder is known to be gone (`why_gone`), if it is."""
    by_id = {s.id: s for s in states}
    health_rows = [source_health(s, by_id.get(s.id), settings.poll.interval) for s in sources]
    service_gone = _gone(service, service_gone, now)
    poll_gone = _gone(poll, poll_gone, now)
    running = service is not None and service_gone is None
    enabled = [h for h in health_rows if h.enabled]
    schedule = settings.schedule
    return StatusReport(
        now=now,
        service=service,
        service_running=running,
        poll=poll if poll_gone is None else None,
        timezone=schedule.timezone,
        next_poll_at=min((max(h.next_poll_at or now, now) for h in enabled), default=None),
        next_digest_at=next_fire(cron_trigger(schedule.digest_cron, schedule.timezone), now),
        next_maintenance_at=next_fire(cron_trigger(schedule.maintenance_cron, schedule.timezone), now),
        last_cycle=last_cycle,
        last_digest=last_digest,
        sources=health_rows,
        health=assess_health(now, service if running else None, enabled, settings.service.unhealthy_after),
        service_stale=_stale(service, service_gone),
        poll_stale=_stale(poll, poll_gone),
        stale_cycle=stale_cycle(last_cycle, poll, poll_gone),
        verifier=verifier_status(settings, verify_pending),
        notifications=notifications,
    )


def verifier_status(settings: Settings, pending: int) -> VerifierStatus | None:
    v = settings.judge.verifier
    if v.kind == "off":
        return None
    return VerifierStatus(v.model, v.base_url, v.api_key_env, pending)


def _gone(holder: LockHolder | None, gone: str | None, now: datetime) -> str | None:
    if holder is None:
        return None
    return gone or ("whose lock expired" if holder.expires_at < now else None)


def _stale(holder: LockHolder | None, gone: str | None) -> StaleHolder | None:
    if holder is None or gone is None:
        return None
    return StaleHolder(holder, f"pid {holder.pid} on {holder.host}, {gone}")


def stale_cycle(cycle: CycleRecord | None, poll: LockHolder | None, poll_gone: str | None) -> str | None:
    """Why a `running` last cycle is not running; None when it is (or is not `running`). Every
    cycle runs under the poll lock, taken before the cycle starts and both stamped by that one
    process's clock: a running cycle is in progress only if a live holder took the lock before."""
    if cycle is None or cycle.status != "running":
        return None
    if poll is None:
        return "running, but no process holds the poll lock (stale)"
    if cycle.started_at < poll.acquired_at:
        return f"running, but pid {poll.pid} has taken the poll lock since it started (stale)"
    if poll_gone is None:
        return None
    return f"running in pid {poll.pid}, {poll_gone} (stale)"


def source_health(source: Source, state: SourceState | None, default_interval: int) -> SourceHealth:
    interval = source.interval or default_interval
    state = state or SourceState(id=source.id, url=source.url, kind=source.kind, name=source.name)
    if not source.enabled:
        label = "disabled"
    elif state.last_status is None:
        label = "never polled"
    elif state.last_status == "error":
        label = "failing"
    else:
        label = state.last_status
    backoff = None
    if state.consecutive_errors and state.next_poll_at and state.last_polled_at:
        backoff = max(0.0, (state.next_poll_at - state.last_polled_at).total_seconds())
    return SourceHealth(
        id=source.id,
        name=source.label,
        enabled=source.enabled,
        interval=interval,
        state=label,
        consecutive_errors=state.consecutive_errors,
        last_polled_at=state.last_polled_at,
        last_success_at=state.last_success_at,
        last_error=state.last_error,
        last_error_at=state.last_error_at,
        next_poll_at=state.next_poll_at,
        backoff_seconds=backoff,
        items=state.item_count,
    )


def assess_health(now: datetime, service: LockHolder | None, enabled: Sequence[SourceHealth], intervals: int) -> Health:
    """Healthy: the service runs and some source succeeded within `intervals` of its intervals."""
    if service is None:
        return Health(False, ("monitor serve is not running (no live lock on this database)",))
    if not enabled:
        return Health(True, ("no enabled sources",))
    for source in enabled:
        if source.last_success_at and now - source.last_success_at <= timedelta(seconds=intervals * source.interval):
            return Health(True)
    grace = timedelta(seconds=intervals * min(s.interval for s in enabled))
    if now - service.acquired_at <= grace:
        return Health(True, ("starting: no successful poll yet",))
    successes = [s for s in enabled if s.last_success_at]
    if not successes:
        return Health(False, (f"no successful poll since the service started {_ago(now, service.acquired_at)}",))
    last = max(successes, key=lambda s: s.last_success_at or now)
    ago = _ago(now, last.last_success_at)
    return Health(False, (f"no successful poll within {intervals} intervals: the last was {last.id}, {ago}",))


def _ago(now: datetime, when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def status_json(report: StatusReport) -> dict[str, Any]:
    """The report as JSON-ready data: times as ISO 8601 UTC with `Z`."""
    data: dict[str, Any] = _jsonable(
        {
            "now": report.now,
            "healthy": report.health.ok,
            "health_reasons": list(report.health.reasons),
            "service": {
                "running": report.service_running,
                "holder": report.service,
                "stale": report.service_stale.reason if report.service_stale else None,
            },
            "poll_in_progress": report.poll,
            "poll_stale": report.poll_stale,
            "timezone": report.timezone,
            "next": {
                "poll": report.next_poll_at,
                "digest": report.next_digest_at,
                "maintenance": report.next_maintenance_at,
            },
            "last_cycle": report.last_cycle,
            "sources": report.sources,
            "last_digest": report.last_digest,
            "verifier": report.verifier,
            "notifications": report.notifications,
        }
    )
    if data["last_cycle"] is not None:
        data["last_cycle"]["stale"] = report.stale_cycle
    return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
