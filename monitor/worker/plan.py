"""What the workers decide, as data: which sources are due, the lock and queueing-lock names
of each job, the cron line of a tick, the queue's connection string. No I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from sqlalchemy.engine import URL

from monitor.backoff import is_due
from monitor.records import SourceState
from monitor.settings import PollSettings, Source
from monitor.tell.schedule import due_digest_period

# Procrastinate's tables live in a PostgreSQL schema of their own, beside the monitor's tables
# in `public`: Alembic's comparisons (and a reader of the database) see only the monitor's.
QUEUE_SCHEMA = "procrastinate"

# Task names, stable across versions: jobs already queued name them.
POLL = "monitor.poll_source"
ARTICLES = "monitor.fetch_articles"
MATCH = "monitor.match"
DIGEST = "monitor.digest"
TICK = "monitor.tick"
RETRY_STALLED = "monitor.retry_stalled"


def source_lock(source_id: str) -> str:
    """The lock of a source's polls: two jobs holding it never run at once."""
    return f"source:{source_id}"


def poll_queueing_lock(source_id: str) -> str:
    """At most one poll of a source waits in the queue; a tick finding one waiting adds none."""
    return f"poll:{source_id}"


def articles_lock(source_id: str) -> str:
    return f"articles:{source_id}"


MATCH_LOCK = "match"  # clustering and judging are ordered (oldest first): one batch at a time
DIGEST_LOCK = "digest"


def due_sources(
    sources: Sequence[Source], states: Iterable[SourceState], now: datetime, poll: PollSettings
) -> list[Source]:
    """The enabled sources whose poll is due at `now` (never polled, their time come, or a
    schedule longer than today's settings allow), in config order. The same rule as
    `monitor serve` (`monitor.backoff.is_due`)."""
    known = {s.id: s for s in states}
    due = []
    for source in sources:
        if not source.enabled:
            continue
        state = known.get(source.id)
        if state is None or is_due(state.next_poll_at, now, poll, source.interval, errors=state.consecutive_errors):
            due.append(source)
    return due


def tick_cron(seconds: float) -> str:
    """A Procrastinate cron line (croniter's, seconds in a sixth column) firing about every
    `seconds`: a divisor of 60 under a minute, else whole minutes (a divisor of 60 too, up to
    an hour). Procrastinate defers each fire time once, whatever the number of workers."""
    if seconds < 60:
        step = next(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) if d >= math.ceil(seconds))
        return "* * * * *" if step == 60 else f"* * * * * */{step}"
    minutes = next(d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) if d >= math.ceil(seconds / 60))
    return "0 * * * *" if minutes == 60 else f"*/{minutes} * * * *"


def queue_conninfo(url: URL) -> str:
    """libpq's connection URI for the queue, from the monitor's SQLAlchemy URL (the driver
    name dropped; user, password, host, port, database and query kept)."""
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"the workers need PostgreSQL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def digest_due(trigger: CronTrigger, last_end: datetime | None, now: datetime, started_at: datetime) -> bool:
    """Whether a digest is due: a period not made yet (`due_digest_period`). A database without
    any digest gets its first at the first scheduled time after this worker started, as a new
    `monitor serve` does (not at once, for a period before anything was collected)."""
    period = due_digest_period(trigger, last_end, now)
    return period is not None and (last_end is not None or period[1] > started_at)
