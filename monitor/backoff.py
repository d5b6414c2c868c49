"""When to poll a source next: its interval, jitter, and backoff while it fails.

Pure: no I/O, no clock and no randomness of its own (the caller passes `rand` in [0, 1)).

The rules, in the manner of Miniflux (a next-check time per feed; the larger of the schedule's
interval and the server's Retry-After, clamped to a maximum), with exponential backoff added:

- a success waits the source's interval (`interval` of the source, else `[poll] interval`);
- the n-th failure in a row waits `interval * 2**(n-1)`, at most `[poll] backoff_max` (never
  less than the interval): the first failure costs nothing, the next ones double the wait;
- a 429 or 503 with `Retry-After` waits at least that long (also at most `backoff_max`);
- one success resets the count;
- `jitter` adds up to that fraction of the wait, so that sources drift apart.

Unlike Miniflux's `POLLING_PARSING_ERROR_LIMIT`, a failing source is never given up: it is
polled at least every `backoff_max` seconds, and shown as failing until it recovers.
"""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime, timedelta

from monitor.settings import PollSettings

RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_DOUBLINGS = 40  # 2**40 intervals is beyond any cap; keeps the float finite
# Units for a long wait in words, largest first (a year of 365.25 days); below two hours,
# seconds read well enough.
_UNITS = (("years", 365.25 * 86400), ("days", 86400.0), ("hours", 3600.0))
# Past this a wait is shown as "over", not digit by digit (`int(1e308)` has 309 of them).
_LONGEST_SHOWN = 1e15


def backoff_seconds(
    interval: float,
    errors: int,
    *,
    cap: float,
    jitter: float = 0.0,
    rand: float = 0.0,
    status: int | None = None,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait before the next poll, after `errors` failures in a row (0: success)."""
    ceiling = max(cap, interval)
    if errors <= 0:
        base = float(interval)
    else:
        base = min(ceiling, interval * 2.0 ** min(errors - 1, MAX_DOUBLINGS))
        if status in RETRY_AFTER_STATUSES and retry_after is not None and retry_after > 0:
            base = max(base, min(retry_after, ceiling))
    return base * (1.0 + jitter * min(max(rand, 0.0), 1.0))


def describe_wait(seconds: float) -> str:
    """A wait as whole seconds with thousands grouped, and in a larger unit once past two of
    it: "120s", "7,200s (2 hours)", "1,000,000,000s (31.7 years)". A float's `:g` format gave
    "1e+09s"."""
    if math.isnan(seconds):
        return "an unreadable wait"
    if seconds > _LONGEST_SHOWN:
        return f"over {int(_LONGEST_SHOWN):,}s (beyond any cap)"
    whole = round(max(seconds, 0.0))
    for unit, size in _UNITS:
        if whole >= 2 * size:
            return f"{whole:,}s ({whole / size:,.1f} {unit})".replace(".0 ", " ")
    return f"{whole:,}s"


def poll_delay(
    poll: PollSettings,
    source_interval: int | None,
    *,
    errors: int,
    rand: float,
    status: int | None = None,
    retry_after: float | None = None,
) -> timedelta:
    """The wait before the next poll of a source under these settings."""
    seconds = backoff_seconds(
        source_interval or poll.interval,
        errors,
        cap=poll.backoff_max,
        jitter=poll.jitter,
        rand=rand,
        status=status,
        retry_after=retry_after,
    )
    return timedelta(seconds=seconds)


def longest_delay(poll: PollSettings, source_interval: int | None, *, errors: int) -> timedelta:
    """The longest wait these settings could have chosen after `errors` failures in a row."""
    return poll_delay(poll, source_interval, errors=errors, rand=1.0, status=429, retry_after=float("inf"))


def is_due(
    next_poll_at: datetime | None, now: datetime, poll: PollSettings, source_interval: int | None, *, errors: int
) -> bool:
    """Whether a source should be polled now: never scheduled, its time has come, or its time
    lies further ahead than the current settings could have put it (the interval was shortened
    since; a stale schedule must not hold a source back)."""
    if next_poll_at is None or next_poll_at <= now:
        return True
    return next_poll_at - now > longest_delay(poll, source_interval, errors=errors) + timedelta(seconds=1)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
