"""Cron expressions in the five-field form a reader writes in monitor.toml, made into the
keyword fields APScheduler's `CronTrigger` takes (weekdays by name, since cron counts Sunday
as 0 and APScheduler Monday). Shared: the settings validate with it, the service schedules with it.
"""

from __future__ import annotations

import re

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
