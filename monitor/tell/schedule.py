"""Schedule arithmetic for the service: cron triggers, the digest period that is due.

Pure: takes the time (`now`) and returns times; no I/O, no clock.

A digest covers the items fetched from the end of the last digest up to a scheduled time
(a fire time of the digest cron). Taking the period's end from the schedule, not from the
clock, makes the periods tile exactly and makes sending idempotent: a period whose end is
not later than the last digest's end was sent already, whatever restarts happened. After
downtime, only the latest missed fire time is due, and its period starts where the last
digest ended: missed runs are caught up once, in one digest, not once per missed run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from monitor.text.cron import cron_fields

# Look back this far, in turn, for the latest fire time: short windows first, so a frequent
# schedule never needs many steps; long ones for weekly, monthly and yearly schedules.
LOOKBACKS = tuple(
    timedelta(days=d) for d in (1 / 1440, 1 / 24, 1, 32, 367, 366 * 8 + 2)
)  # a minute, an hour, a day, a month, a year, eight years (29 February)


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """A trigger for a five- or six-field crontab line, read in `timezone`."""
    return CronTrigger(**cron_fields(expr), timezone=ZoneInfo(timezone))


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time at or after `after`, in UTC."""
    when: datetime | None = trigger.get_next_fire_time(None, after)
    return when.astimezone(UTC) if when is not None else None


def latest_fire(trigger: CronTrigger, at: datetime) -> datetime | None:
    """The last fire time at or before `at`, in UTC (None if there is none within eight years)."""
    for lookback in LOOKBACKS:
        fire = next_fire(trigger, at - lookback)
        if fire is None or fire > at:
            continue
        while (following := next_fire(trigger, fire + timedelta(microseconds=1))) is not None and following <= at:
            fire = following
        return fire
    return None


def due_digest_period(
    trigger: CronTrigger, last_end: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """The (start, end) of the digest due at `now`, or None when the latest one was written.

    The end is the latest fire time; the start is the last digest's end, or for the first
    digest ever, the fire time before the end (a day before, if there is none)."""
    end = latest_fire(trigger, now)
    if end is None or (last_end is not None and last_end >= end):
        return None
    if last_end is not None:
        return last_end, end
    start = latest_fire(trigger, end - timedelta(microseconds=1))
    return (start or end - timedelta(days=1)), end


def missed_digest(trigger: CronTrigger, last_end: datetime | None, now: datetime) -> bool:
    """Whether a digest fell due while the service was down. A database without any digest
    has missed nothing: its first digest waits for the first scheduled time."""
    return last_end is not None and due_digest_period(trigger, last_end, now) is not None
