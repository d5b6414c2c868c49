"""The scheduled service: schedule arithmetic, locks and health (in process), then `monitor serve`
itself as a subprocess against a loopback HTTP server, with intervals of a second."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.logs import JsonFormatter
from monitor.records import LockHolder
from monitor.storage import open_database
from monitor.storage.lock import DbLock, LockHeldError, LockOwner
from monitor.tell.schedule import cron_trigger, due_digest_period, latest_fire, missed_digest
from monitor.tell.status import SourceHealth, assess_health
from monitor.text.cron import cron_fields
from tests.conftest import Workspace
from tests.servicekit import Serve, Site, assert_consistent, configure, count, query, status

T0 = datetime(2025, 7, 15, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


# -- schedule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "weekdays"),
    [
        ("0 7 * * *", "*"),
        ("0 7 * * 0", "sun"),
        ("0 7 * * 7", "sun"),
        ("0 7 * * 1-5", "mon,tue,wed,thu,fri"),
        ("0 7 * * 5-7", "fri,sat,sun"),
        ("0 7 * * */2", "sun,tue,thu,sat"),
        ("0 7 * * mon-fri", "mon-fri"),
        ("0 7 * * 1,3", "mon,wed"),
    ],
)
def test_cron_weekdays_mean_what_crontab_means(expr: str, weekdays: str) -> None:
    assert cron_fields(expr)["day_of_week"] == weekdays


def test_cron_with_seconds() -> None:
    assert cron_fields("*/2 * * * * *") == {
        "second": "*/2",
        "minute": "*",
        "hour": "*",
        "day": "*",
        "month": "*",
        "day_of_week": "*",
    }


@pytest.mark.parametrize(
    ("expr", "zone", "at", "expected"),
    [
        ("0 7 * * *", "Asia/Shanghai", utc(2025, 7, 15, 12, 0), utc(2025, 7, 14, 23, 0)),
        ("0 7 * * *", "Asia/Shanghai", utc(2025, 7, 14, 23, 0), utc(2025, 7, 14, 23, 0)),
        ("0 7 * * *", "UTC", utc(2025, 7, 15, 6, 59), utc(2025, 7, 14, 7, 0)),
        ("0 7 * * 1", "UTC", utc(2025, 7, 15, 12, 0), utc(2025, 7, 14, 7, 0)),  # a Monday
        ("0 7 * * *", "Europe/Berlin", utc(2025, 3, 31, 12, 0), utc(2025, 3, 31, 5, 0)),  # summer time
        ("*/2 * * * * *", "UTC", utc(2025, 7, 15, 12, 0, 3), utc(2025, 7, 15, 12, 0, 2)),
        ("0 0 29 2 *", "UTC", utc(2025, 7, 15, 12, 0), utc(2024, 2, 29, 0, 0)),
    ],
)
def test_latest_fire(expr: str, zone: str, at: datetime, expected: datetime) -> None:
    assert latest_fire(cron_trigger(expr, zone), at) == expected


DAILY = cron_trigger("0 7 * * *", "Asia/Shanghai")  # 23:00 UTC


@pytest.mark.parametrize(
    ("last_end", "now", "expected"),
    [
        pytest.param(None, T0, (utc(2025, 7, 13, 23), utc(2025, 7, 14, 23)), id="first digest: the last period"),
        pytest.param(utc(2025, 7, 13, 23), T0, (utc(2025, 7, 13, 23), utc(2025, 7, 14, 23)), id="due"),
        pytest.param(utc(2025, 7, 14, 23), T0, None, id="sent already (a restart)"),
        pytest.param(utc(2025, 7, 10, 23), T0, (utc(2025, 7, 10, 23), utc(2025, 7, 14, 23)), id="4 missed: once"),
        pytest.param(utc(2025, 7, 14, 23), utc(2025, 7, 14, 23), None, id="at the fire time, sent"),
        pytest.param(utc(2025, 7, 13, 23), utc(2025, 7, 14, 22, 59), None, id="before the fire time"),
    ],
)
def test_due_digest_period(
    last_end: datetime | None, now: datetime, expected: tuple[datetime, datetime] | None
) -> None:
    assert due_digest_period(DAILY, last_end, now) == expected


def test_missed_digest_only_after_a_first_one() -> None:
    assert not missed_digest(DAILY, None, T0)  # a fresh database waits for the first scheduled time
    assert missed_digest(DAILY, utc(2025, 7, 12, 23), T0)
    assert not missed_digest(DAILY, utc(2025, 7, 14, 23), T0)


# -- locks --------------------------------------------------------------------------------------


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.sqlite_only
def test_lock_is_exclusive_refreshed_and_released(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    clock = Clock()
    me = LockOwner("a", "host1", 100)
    other = LockOwner("b", "host2", 200)
    mine = DbLock(engine, "poll", me, ttl=60, clock=clock)
    theirs = DbLock(engine, "poll", other, ttl=60, clock=clock)
    mine.acquire("monitor serve: poll cycle")
    with pytest.raises(LockHeldError, match=r"monitor serve: poll cycle \(pid 100 on host1\) holds the poll lock"):
        theirs.acquire("monitor run --once")
    clock.now += timedelta(seconds=50)
    assert mine.refresh()
    clock.now += timedelta(seconds=50)  # 100 s after taking it, 50 s after the heartbeat: still held
    with pytest.raises(LockHeldError):
        theirs.acquire("monitor run --once")
    theirs.release()  # not theirs to release
    assert mine.holder() is not None
    mine.release()
    assert mine.holder() is None
    theirs.acquire("monitor run --once")
    assert theirs.holder() is not None and theirs.holder().owner == "b"  # type: ignore[union-attr]


@pytest.mark.sqlite_only
def test_expired_lock_is_taken_over_and_its_old_holder_learns_it(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    clock = Clock()
    crashed = DbLock(engine, "service", LockOwner("a", "host1", 100), ttl=60, clock=clock)
    crashed.acquire("monitor serve")
    clock.now += timedelta(seconds=61)
    DbLock(engine, "service", LockOwner("b", "host2", 200), ttl=60, clock=clock).acquire("monitor serve")
    assert not crashed.refresh()


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("holder_host", "holder_pid", "alive", "taken"),
    [
        ("here", 4242, False, True),  # a dead process on this host
        ("here", 4242, True, False),  # a live one
        ("here", 1, True, True),  # our own pid under another token: a previous life of this container
        ("there", 4242, False, False),  # another host: only expiry frees it
    ],
)
def test_stale_holder_on_this_host(tmp_path: Path, holder_host: str, holder_pid: int, alive: bool, taken: bool) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    DbLock(engine, "service", LockOwner("old", holder_host, holder_pid), ttl=60).acquire("monitor serve")
    me = DbLock(engine, "service", LockOwner("new", "here", 1), ttl=60, alive=lambda pid: alive)
    if taken:
        me.acquire("monitor serve")
        assert me.holder() is not None and me.holder().owner == "new"  # type: ignore[union-attr]
    else:
        with pytest.raises(LockHeldError):
            me.acquire("monitor serve")


# -- health -------------------------------------------------------------------------------------


def holder(acquired: datetime) -> LockHolder:
    return LockHolder("service", "x", "h", 1, "monitor serve", acquired, acquired, acquired + timedelta(minutes=2))


def health_row(source_id: str, interval: int, last_success: datetime | None) -> SourceHealth:
    return SourceHealth(
        source_id, source_id, True, interval, "ok", 0, last_success, last_success, None, None, None, None, 0
    )


@pytest.mark.parametrize(
    ("service", "rows", "ok", "reason"),
    [
        (None, [health_row("a", 60, T0)], False, "not running"),
        (holder(T0 - timedelta(days=1)), [health_row("a", 600, T0 - timedelta(minutes=20))], True, None),
        (holder(T0 - timedelta(days=1)), [health_row("a", 600, T0 - timedelta(minutes=40))], False, "within 3"),
        (  # one source failing for days, another fine: healthy
            holder(T0 - timedelta(days=1)),
            [health_row("dead", 60, T0 - timedelta(days=3)), health_row("a", 3600, T0 - timedelta(hours=2))],
            True,
            None,
        ),
        (holder(T0 - timedelta(minutes=1)), [health_row("a", 600, None)], True, "starting"),
        (holder(T0 - timedelta(hours=1)), [health_row("a", 600, None)], False, "since the service started"),
        (holder(T0 - timedelta(hours=1)), [], True, "no enabled sources"),
    ],
)
def test_assess_health(service: LockHolder | None, rows: list[SourceHealth], ok: bool, reason: str | None) -> None:
    health = assess_health(T0, service, rows, 3)
    assert health.ok is ok
    if reason:
        assert reason in " ".join(health.reasons)


def test_json_log_lines_lift_key_value_pairs() -> None:
    record = logging.LogRecord(
        "monitor.pipeline.cycle", logging.INFO, __file__, 1, "source=%s status=%s new=%d seconds=%.2f error=%r",
        ("bis", "error", 0, 0.4213, "HTTP 503 Service Unavailable"), None,
    )  # fmt: skip
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "info" and entry["logger"] == "monitor.pipeline.cycle"
    assert entry["source"] == "bis" and entry["new"] == 0 and entry["seconds"] == 0.42
    assert entry["error"] == "HTTP 503 Service Unavailable"
    assert entry["at"].endswith("Z")


@pytest.mark.sqlite_only  # ends with PRAGMA integrity_check on the file
@pytest.mark.slow
def test_sources_are_polled_on_their_intervals(
    site: Site, workspace: Workspace, serve: Callable[..., Serve], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(workspace)
    workspace.sources(
        {"id": "fast", "url": site.feed("/fast.xml", 2), "kind": "feed", "interval": 1},
        {"id": "slow", "url": site.feed("/slow.xml", 3), "kind": "feed", "interval": 3},
    )
    service = serve()
    service.wait_for("three polls of the slow source", lambda: len(site.hits.get("/slow.xml", [])) >= 3)

    code, report = status(capsys, "--check")
    assert code == 0 and report["healthy"] and report["service"]["running"]
    assert report["next"]["poll"] and report["next"]["digest"] and report["last_cycle"]["trigger"] == "serve"
    sources = {s["id"]: s for s in report["sources"]}
    assert sources["fast"]["items"] == 2 and sources["slow"]["items"] == 3
    assert sources["slow"]["interval"] == 3 and sources["fast"]["state"] in ("ok", "not_modified")

    assert service.stop() == 0
    slow, fast = site.gaps("/slow.xml"), site.gaps("/fast.xml")
    assert min(slow) >= 2.9, slow  # never before its interval
    assert min(fast) >= 0.9, fast
    assert sorted(fast)[len(fast) // 2] < 2.5, fast  # on its own interval, not the slow one's
    assert len(fast) > len(slow)
    assert main(["status", "--check"]) == 1  # stopped: unhealthy
    assert_consistent(workspace)
    out = service.output()
    assert "event=start" in out and "source=fast status=ok new=2" in out and "event=cycle" in out


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_failing_source_backs_off_and_recovers(
    site: Site, workspace: Workspace, serve: Callable[..., Serve], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(workspace)
    site.feed("/flaky.xml", 2, status=500)
    site.feed("/limited.xml", 1, status=429, headers={"Retry-After": "3"})
    workspace.sources(
        {"id": "flaky", "url": site.url("/flaky.xml"), "kind": "feed"},
        {"id": "limited", "url": site.url("/limited.xml"), "kind": "feed"},
    )
    service = serve()
    service.wait_for("three failures", lambda: len(site.hits.get("/flaky.xml", [])) >= 3)
    service.wait_for("the third failure stored", lambda: count(workspace, _ERRORS, "flaky") >= 3)

    _code, report = status(capsys)
    flaky = next(s for s in report["sources"] if s["id"] == "flaky")
    assert flaky["state"] == "failing" and flaky["consecutive_errors"] == 3
    assert flaky["backoff_seconds"] == pytest.approx(4.0, abs=0.01)  # 1 s interval, doubled twice
    assert "HTTP 500" in flaky["last_error"]
    assert any(source == "flaky" for source, _error in report["last_cycle"]["failures"])

    site.routes["/flaky.xml"].status = 200  # the site recovers
    service.wait_for("recovery", lambda: count(workspace, "SELECT count(*) FROM item WHERE source_id = 'flaky'") == 2)
    service.wait_for("a poll after recovery", lambda: len(site.hits["/flaky.xml"]) >= 5)
    _code, report = status(capsys)
    flaky = next(s for s in report["sources"] if s["id"] == "flaky")
    assert service.stop() == 0

    gaps = site.gaps("/flaky.xml")
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9 and gaps[2] >= 3.9, gaps  # 1 s, 2 s, 4 s
    assert gaps[3] < 3.5, gaps  # back on its interval
    assert flaky["consecutive_errors"] == 0 and flaky["backoff_seconds"] is None
    limited = site.gaps("/limited.xml")
    assert limited and min(limited) >= 2.9, limited  # Retry-After: 3 beats the 1 s interval
    assert "event=backoff source=flaky errors=3 wait=4.0" in service.output()
    assert_consistent(workspace)


_ERRORS = "SELECT consecutive_errors FROM source WHERE id = ?"


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_digest_once_per_period_also_across_a_restart(
    site: Site, workspace: Workspace, serve: Callable[..., Serve]
) -> None:
    configure(workspace, digest_cron="* * * * * *")  # every second
    workspace.sources({"id": "wire", "url": site.feed("/wire.xml", 3), "kind": "feed", "interval": 30})
    digests = "SELECT period_start, period_end, path, item_count, created_at FROM digest ORDER BY period_end"

    first = serve("first")
    first.wait_for("a digest", lambda: count(workspace, "SELECT count(*) FROM digest") >= 1)
    assert first.stop() == 0
    before = query(workspace, digests)
    last_end = datetime.fromisoformat(before[-1][1]).replace(tzinfo=UTC)
    while datetime.now(UTC) < last_end + timedelta(seconds=2.1):  # miss at least two fire times
        time.sleep(0.05)

    second = serve("second")
    second.wait_for("the catch-up and one more", lambda: len(query(workspace, digests)) >= len(before) + 2)
    assert second.stop() == 0

    rows = query(workspace, digests)
    ends = [row[1] for row in rows]
    assert len(set(ends)) == len(ends), ends  # no period sent twice
    for previous, row in itertools.pairwise(rows):
        assert row[0] == previous[1], rows  # periods tile: each starts where the last ended
    catch_up = rows[len(before)]
    start, end = (datetime.fromisoformat(v).replace(tzinfo=UTC) for v in catch_up[:2])
    assert start == last_end and (end - start) >= timedelta(seconds=2), catch_up  # missed runs: once
    assert sum(row[3] for row in rows) == 3  # every item in exactly one digest
    assert all(Path(row[2]).is_file() for row in rows)
    assert "event=digest" in second.output()


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_sigterm_during_a_poll_leaves_the_database_consistent(
    site: Site, workspace: Workspace, serve: Callable[..., Serve]
) -> None:
    configure(workspace, stop_timeout=2.5)
    workspace.sources(
        {"id": "quick", "url": site.feed("/quick.xml", 60), "kind": "feed", "interval": 600},
        {"id": "slow", "url": site.feed("/slow.xml", 40, delay=1.0), "kind": "feed", "interval": 600},
        {"id": "stuck", "url": site.feed("/stuck.xml", 50, stall=True), "kind": "feed", "interval": 600},
    )
    service = serve()
    service.wait_for("the downloads to start", lambda: {"/slow.xml", "/stuck.xml"} <= set(site.hits))
    began = time.monotonic()
    assert service.stop() == 0
    assert time.monotonic() - began < 20

    by_source = dict(query(workspace, "SELECT source_id, count(*) FROM item GROUP BY source_id"))
    assert by_source.get("quick") in (None, 60)  # whole batches or nothing
    assert by_source.get("slow") == 40  # in flight at SIGTERM, finished within the deadline
    assert "stuck" not in by_source  # cancelled at the deadline: nothing of it stored
    assert query(workspace, "SELECT last_polled_at, next_poll_at FROM source WHERE id = 'stuck'") == [(None, None)]
    assert query(workspace, "SELECT status FROM cycle ORDER BY id DESC LIMIT 1") == [("interrupted",)]
    assert_consistent(workspace)
    out = service.output()
    assert "event=signal signal=SIGTERM" in out and "finished_in_time=False" in out


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_a_second_instance_and_a_run_during_a_poll_are_refused(
    site: Site, workspace: Workspace, serve: Callable[..., Serve], capsys: pytest.CaptureFixture[str]
) -> None:
    configure(workspace, stop_timeout=1)
    workspace.sources({"id": "slow", "url": site.feed("/slow.xml", 2, delay=8.0), "kind": "feed"})
    first = serve("first")
    first.wait_for(
        "the service lock", lambda: count(workspace, "SELECT count(*) FROM lock WHERE name = 'service'") == 1
    )
    second = serve("second")  # starts while the first polls

    first.wait_for("a poll in progress", lambda: bool(site.hits.get("/slow.xml")))
    capsys.readouterr()
    assert main(["run", "--once"]) == 3
    err = capsys.readouterr().err
    assert "busy: a poll is in progress" in err and "monitor serve: poll cycle" in err

    assert second.exit_code(timeout=40) == 3, second.output()
    assert "busy: monitor serve is already running on this database" in second.output()
    assert f"pid {first.proc.pid if first.proc else 0}" in second.output()

    assert first.stop() == 0
    assert count(workspace, "SELECT count(*) FROM cycle WHERE trigger = 'once'") == 0  # the refused run did nothing
    assert_consistent(workspace)


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_digest_waits_for_a_poll_in_progress_elsewhere(
    site: Site, workspace: Workspace, serve: Callable[..., Serve]
) -> None:
    """Items are dated by their download and stored just after: a digest must not close its
    period while another process's poll (here: this test, as `run --once` would) may still
    store items of it."""
    configure(workspace, digest_cron="* * * * * *")
    workspace.sources({"id": "wire", "url": site.feed("/wire.xml", 2), "kind": "feed", "interval": 30})
    engine = open_database(f"sqlite:///{workspace.database}")
    other = DbLock(engine, "poll", LockOwner("elsewhere", "elsewhere-host", 999_999), ttl=60)
    other.acquire("monitor run --once")
    try:
        service = serve()
        service.wait_for("a postponed digest", lambda: "event=digest_postponed" in service.output())
        time.sleep(1.5)  # more fire times pass while the poll runs
        assert count(workspace, "SELECT count(*) FROM digest") == 0
        assert not site.hits  # and the service's own polls waited too
    finally:
        other.release()
        engine.dispose()
    service.wait_for("the digest", lambda: count(workspace, "SELECT count(*) FROM digest") >= 1)
    assert service.stop() == 0
    assert "run --once (pid 999999 on elsewhere-host)" in service.output()
    assert_consistent(workspace)
