"""The workers' decisions as data (monitor.worker.plan): due sources, tick cron lines, the first
digest, the queue's connection string. No database, no queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter
from sqlalchemy.engine import make_url

from monitor.records import SourceState
from monitor.settings import PollSettings, Source
from monitor.tell.schedule import cron_trigger

plan = pytest.importorskip("monitor.worker.plan")

NOW = datetime(2026, 12, 7, 7, 0, 30, tzinfo=UTC)


def source(id_: str, *, enabled: bool = True, interval: int | None = None) -> Source:
    return Source(id=id_, url=f"http://127.0.0.1:9/{id_}.xml", kind="feed", enabled=enabled, interval=interval)


def state(id_: str, next_poll_at: datetime | None, errors: int = 0) -> SourceState:
    return SourceState(id=id_, url="", kind="feed", next_poll_at=next_poll_at, consecutive_errors=errors)


def test_due_sources_follow_the_schedule_and_skip_disabled_ones() -> None:
    sources = [source("new"), source("due"), source("later"), source("off", enabled=False), source("stale")]
    states = [
        state("due", NOW - timedelta(seconds=1)),
        state("later", NOW + timedelta(minutes=30)),
        state("off", None),
        state("stale", NOW + timedelta(days=30)),  # further ahead than any delay today's settings allow
    ]
    due = plan.due_sources(sources, states, NOW, PollSettings())
    assert [s.id for s in due] == ["new", "due", "stale"]


@pytest.mark.parametrize(
    ("seconds", "cron", "gap"),
    [
        (1, "* * * * * */1", 1),
        (7, "* * * * * */10", 10),
        (30, "* * * * * */30", 30),
        (45, "* * * * *", 60),
        (60, "*/1 * * * *", 60),
        (90, "*/2 * * * *", 120),
        (3600, "0 * * * *", 3600),
    ],
)
def test_tick_cron_fires_at_least_as_often_as_asked_rounded_to_a_divisor(seconds: float, cron: str, gap: int) -> None:
    assert plan.tick_cron(seconds) == cron
    fires = croniter(cron, NOW)
    first, second = fires.get_next(datetime), fires.get_next(datetime)
    assert (second - first).total_seconds() == gap


def test_the_first_digest_waits_for_a_scheduled_time_after_the_start() -> None:
    trigger = cron_trigger("0 7 * * *", "UTC")
    started = NOW - timedelta(minutes=5)  # 06:55: today's 07:00 came since
    assert plan.digest_due(trigger, None, NOW, started)
    assert not plan.digest_due(trigger, None, NOW, NOW - timedelta(seconds=10))  # started at 07:00:20
    assert not plan.digest_due(trigger, NOW.replace(second=0), NOW, started)  # made already
    assert plan.digest_due(trigger, NOW - timedelta(days=1, seconds=30), NOW, NOW)  # a missed one is caught up


def test_queue_conninfo_is_libpq_s_uri_with_the_password_and_query_kept() -> None:
    url = make_url("postgresql+psycopg://user:s%40cret@db.internal:5433/monitor?sslmode=require")
    assert plan.queue_conninfo(url) == "postgresql://user:s%40cret@db.internal:5433/monitor?sslmode=require"
    with pytest.raises(ValueError, match="PostgreSQL"):
        plan.queue_conninfo(make_url("sqlite:///storage/monitor.db"))


def test_locks_name_the_source() -> None:
    assert plan.source_lock("reuters") != plan.poll_queueing_lock("reuters")
    assert plan.source_lock("a") != plan.source_lock("b")
