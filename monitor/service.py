"""The scheduled service, `monitor serve`: APScheduler jobs, the database locks, graceful stop.

Jobs (each with `max_instances=1`, `coalesce=True` and a misfire grace time):
- `poll` every `[schedule] poll_tick` seconds: polls the sources that are due by their
  `next_poll_at` in the database (so the schedule survives restarts), as one cycle, recorded
  in the `cycle` table. `next_poll_at` is set by the pipeline with `monitor.backoff`.
- `digest` on `[schedule] digest_cron` in `[schedule] timezone`: makes the digest of the
  period that is due (`monitor.tell.schedule.due_digest_period`) with `monitor.pipeline.digest`: file,
  Atom feed, e-mail when configured; once per period, also across restarts; a run missed while
  the service was down is caught up once at start. A period is closed only when no poll that
  could still store items of it runs (items are dated by their download, stored just after).
- `maintenance` on `[schedule] maintenance_cron`: `PRAGMA optimize`, a WAL checkpoint, VACUUM
  when much of the file is free. (Nothing to prune: raw payloads are never stored.)

Why `AsyncIOScheduler` and not `BlockingScheduler`: the poll cycle is a coroutine (concurrent
downloads on one event loop, writes serialised on that loop), so the jobs run on the loop the
fetcher lives on; one long-lived HTTP client keeps its connections between cycles; and signals,
deadlines and cancellation are the loop's own. A BlockingScheduler would run each job in a
thread with a fresh event loop per cycle and could only stop a job by waiting for it.

One instance per database: `monitor serve` holds the `service` lock for its lifetime and
exits at once (status 3) when another holds it. Writers to sources (a poll cycle, maintenance,
`run --once`) hold the `poll` lock; a poll tick finding it taken is skipped. See
`monitor.storage.lock`.

Stop (SIGTERM, SIGINT): no new job starts; running ones get `[service] stop_timeout` seconds
to finish, then are cancelled. Every write is one transaction that never spans an `await`,
so a cancellation lands between transactions: a batch is stored whole or not at all, and a
source whose poll was cut short keeps its old state and is polled first on the next start.
A second signal cancels at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from sqlalchemy import Engine

from monitor.backoff import is_due
from monitor.collect.articles import RobotsCache
from monitor.collect.fetch import HttpxFetcher
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.logs import log_time, skip_busy_poll_ticks
from monitor.pipeline.cycle import Clock, Cycle, has_follow_up, utcnow
from monitor.pipeline.digest import DigestOutcome, run_digest
from monitor.pipeline.notify import notify_pass, tell_digest
from monitor.pipeline.run import run_cycle
from monitor.records import Fetcher
from monitor.settings import Source
from monitor.storage import SqlRepository
from monitor.storage.lock import (
    POLL,
    SERVICE,
    DbLock,
    Heartbeat,
    LockHeldError,
    LockOwner,
    abandon_running_cycles,
    lock_holder,
)
from monitor.tell.channel import AppriseChannel
from monitor.tell.schedule import cron_trigger, due_digest_period, missed_digest, next_fire

log = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED = 0, 1
CycleFactory = Callable[[SqlRepository, Fetcher], Cycle]


# -- the units of work, shared with the command line ---------------------------------------


def produce_digest(
    repo: SqlRepository, config: Config, *, start: datetime, end: datetime, now: datetime
) -> DigestOutcome:
    """The service's digest of a period: the file and Atom feed, and the e-mail when `[email]`
    is configured (`monitor.pipeline.digest.run_digest`, sent once per digest)."""
    return run_digest(config, repo, now, config.settings.email.configured, period=(start, end))


def serve(
    config: Config,
    engine: Engine,
    make_cycle: CycleFactory,
    beside: Callable[[], contextlib.AbstractContextManager[object]] | None = None,
) -> int:
    """Run the service until SIGTERM/SIGINT. LockHeldError when another instance runs.
    `beside`: what runs along with it once the lock is held (the web side), stopped after it."""
    owner = LockOwner.this_process()
    ttl = config.settings.service.lock_ttl
    service_lock = DbLock(engine, SERVICE, owner, ttl=ttl)
    service_lock.acquire("monitor serve")
    try:
        with Heartbeat(ttl / 4) as heartbeat:
            heartbeat.add(service_lock)
            repo = SqlRepository(engine)
            repo.sync_sources(config.sources)
            poll_lock = DbLock(engine, POLL, owner, ttl=ttl)
            _abandon_dead_cycles(poll_lock)
            service = Service(config, repo, poll_lock, heartbeat, make_cycle)
            with beside() if beside is not None else contextlib.nullcontext():
                return asyncio.run(service.run())
    finally:
        service_lock.release()
        log.info("event=stopped pid=%d", owner.pid)


def _abandon_dead_cycles(poll_lock: DbLock) -> None:
    """At start, mark `abandoned` the cycles a killed process left `running`, holding the poll
    lock for it (taken over when its holder is gone); skipped when a live process holds it."""
    try:
        poll_lock.acquire("monitor serve: start")
    except LockHeldError as e:
        log.info("event=abandon_check_skipped reason=locked holder=%r", str(e))
        return
    try:
        abandon_running_cycles(poll_lock.engine, at=poll_lock.clock())
    finally:
        poll_lock.release()


# -- the service ---------------------------------------------------------------------------


class Service:
    """The scheduler and its jobs, on one event loop; built and run by `serve`."""

    def __init__(
        self,
        config: Config,
        repo: SqlRepository,
        poll_lock: DbLock,
        heartbeat: Heartbeat,
        make_cycle: CycleFactory,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.repo = repo
        self.poll_lock = poll_lock
        self.heartbeat = heartbeat
        self.make_cycle = make_cycle
        self.clock = clock
        self.sources = [s for s in config.sources if s.enabled]
        schedule = self.settings.schedule
        self.digest_trigger = cron_trigger(schedule.digest_cron, schedule.timezone)
        self.maintenance_trigger = cron_trigger(schedule.maintenance_cron, schedule.timezone)
        self._inflight: set[asyncio.Task[Any]] = set()
        self._writer = asyncio.Lock()  # in this process, a poll cycle and maintenance take turns
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self._lost: str | None = None
        self._base: Cycle | None = None
        self._digesting = asyncio.Lock()
        # one notification pass at a time: a second lock of this process would take the `notify`
        # lock over (a holder with our pid is taken for a previous life of the container)
        self._notifying = asyncio.Lock()
        self._scheduler_ref: AsyncIOScheduler | None = None
        self._fetcher: Fetcher | None = None

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig.name)
        self.heartbeat.on_lost = lambda name: _call_soon(loop, self._on_lost, name)
        try:
            async with HttpxFetcher(self.settings.http) as fetcher:
                self._fetcher = fetcher
                self._base = self.make_cycle(self.repo, fetcher)
                scheduler = self._scheduler_ref = self._scheduler()
                scheduler.start()
                self._log_start()
                await self._stop.wait()
                await self._shut_down(scheduler)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return EXIT_FAILED if self._lost else EXIT_OK

    # -- scheduling

    def _scheduler(self) -> AsyncIOScheduler:
        schedule = self.settings.schedule
        scheduler = AsyncIOScheduler(
            timezone=ZoneInfo(schedule.timezone),
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": schedule.misfire_grace_time},
        )
        now = datetime.now(UTC)
        scheduler.add_job(
            self._job("poll", self.poll_due),
            IntervalTrigger(seconds=schedule.poll_tick),
            id="poll",
            name="poll",
            next_run_time=now,
        )
        catch_up = missed_digest(self.digest_trigger, self.repo.last_digest_end(), self.clock())
        scheduler.add_job(
            self._job("digest", self.digest_due),
            self.digest_trigger,
            id="digest",
            name="digest",
            **({"next_run_time": now} if catch_up else {}),
        )
        scheduler.add_job(
            self._job("maintenance", self.maintain), self.maintenance_trigger, id="maintenance", name="maintenance"
        )
        if self.settings.notify:  # alerts, health and retries on [[notify]] channels, every tick
            scheduler.add_job(
                self._job("notify", self.notify_due), IntervalTrigger(seconds=schedule.poll_tick), id="notify"
            )
        logging.getLogger("apscheduler.scheduler").addFilter(skip_busy_poll_ticks)
        return scheduler

    def _job(self, name: str, work: Callable[[], Any]) -> Callable[[], Any]:
        """A job for the scheduler: tracked while it runs (a stop waits for it); a cancellation
        at stop ends it quietly (its work rolled back or was never started)."""

        async def job() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._inflight.add(task)
            try:
                if not self._stop.is_set():
                    await work()
            except asyncio.CancelledError:
                log.warning("event=job_cancelled job=%s", name)
            finally:
                self._inflight.discard(task)

        return job

    def _log_start(self) -> None:
        schedule = self.settings.schedule
        now = self.clock()
        log.info(
            "event=start sources=%d tick=%g timezone=%s digest_cron=%r next_digest_at=%s maintenance_cron=%r",
            len(self.sources),
            schedule.poll_tick,
            schedule.timezone,
            schedule.digest_cron,
            log_time(next_fire(self.digest_trigger, now)),
            schedule.maintenance_cron,
        )

    # -- jobs

    async def poll_due(self) -> None:
        """Poll the sources that are due, as one cycle, holding the poll lock; with none due,
        a cycle still runs when work is left over (articles a budget or a stop left pending,
        items not clustered or judged), so cut work is done within a tick of a restart."""
        async with self._writer:
            assert self._base is not None and self._fetcher is not None
            due = self.due_sources(self.clock())
            others = [s for s in self.sources if s not in due]
            if not due and not await asyncio.to_thread(has_follow_up, others, self._base):
                return
            if not self._take(self.poll_lock, "monitor serve: poll cycle"):
                return
            try:
                # a `run --once` killed since the last cycle left its row `running`: under the
                # poll lock, no live cycle can be running, so such a row is abandoned
                abandon_running_cycles(self.repo.engine, at=self.clock())
                cycle = dataclasses.replace(
                    self._base, robots=RobotsCache(self._fetcher, self.settings.http.user_agent)
                )
                await run_cycle(due, cycle, trigger="serve", others=others)
            finally:
                self._give(self.poll_lock)

    def due_sources(self, now: datetime) -> list[Source]:
        states = {s.id: s for s in self.repo.source_states([s.id for s in self.sources])}
        due = []
        for source in self.sources:
            state = states.get(source.id)
            if state is None or is_due(
                state.next_poll_at, now, self.settings.poll, source.interval, errors=state.consecutive_errors
            ):
                due.append(source)
        return due

    async def digest_due(self) -> None:
        """Make the digest of the period that is due, if it was not made yet.

        Items are dated by their download and stored a moment later, so a period is closed only
        once no poll that could still store items of it is running: this process's cycle is
        waited for; another process's poll (`run --once`) postpones the digest by a tick."""
        async with self._digesting:
            if due_digest_period(self.digest_trigger, self.repo.last_digest_end(), self.clock()) is None:
                log.debug("event=digest_skipped reason=already_made")
                return
            async with self._writer:  # a cycle of ours in flight finishes first
                other = self._other_poller()
            if other is not None:
                log.info("event=digest_postponed reason=poll_in_progress holder=%r", other)
                self._retry_digest()
                return
            period = due_digest_period(self.digest_trigger, self.repo.last_digest_end(), self.clock())
            if period is not None:
                await self._make_digest(*period)

    def _other_poller(self) -> str | None:
        holder = lock_holder(self.repo.engine, POLL)
        if holder is None or holder.owner == self.poll_lock.owner.token or holder.expires_at < self.clock():
            return None
        return f"{holder.purpose} (pid {holder.pid} on {holder.host})"

    def _retry_digest(self) -> None:
        if self._scheduler_ref is None:
            return
        self._scheduler_ref.add_job(
            self._job("digest", self.digest_due),
            "date",
            run_date=datetime.now(UTC) + timedelta(seconds=self.settings.schedule.poll_tick),
            id="digest-retry",
            name="digest-retry",
            replace_existing=True,
        )

    async def _make_digest(self, start: datetime, end: datetime) -> None:
        began = time.monotonic()
        try:
            outcome = await asyncio.to_thread(
                produce_digest, self.repo, self.config, start=start, end=end, now=self.clock()
            )
        except MonitorError as e:
            log.error("event=digest_failed start=%s end=%s error=%r", log_time(start), log_time(end), str(e))
            return
        log.info(
            "event=digest start=%s end=%s items=%d path=%s email=%r seconds=%.2f",
            log_time(start),
            log_time(end),
            outcome.digest.item_count,
            outcome.path,
            outcome.email.status,
            time.monotonic() - began,
        )
        if self._base is not None and self._base.metrics is not None:
            self._base.metrics.observe_digest(outcome)
        for failure in outcome.failures:
            log.warning(
                "event=digest_delivery_failed start=%s end=%s error=%r", log_time(start), log_time(end), failure
            )
        async with self._notifying:
            channel = AppriseChannel(os.environ)
            await asyncio.to_thread(tell_digest, self.config, self.repo, channel, outcome.digest_id, self.clock())

    async def notify_due(self) -> None:
        """A notification pass (`monitor.pipeline.notify`): new alerts and source health queued,
        what is due sent; its outcome is logged there."""
        try:
            async with self._notifying:
                channel = AppriseChannel(os.environ)
                await asyncio.to_thread(notify_pass, self.config, self.repo, channel, self.clock())
        except MonitorError as e:
            log.error("event=notify_pass_failed error=%r", str(e))

    async def maintain(self) -> None:
        """Tidy the database between poll cycles."""
        async with self._writer:
            if not self._take(self.poll_lock, "monitor serve: maintenance"):
                return
            began = time.monotonic()
            try:
                done = self.repo.maintain()
            finally:
                self._give(self.poll_lock)
        details = " ".join(f"{key}={value!r}" for key, value in done.items())
        log.info("event=maintenance %s seconds=%.2f", details, time.monotonic() - began)

    def _take(self, lock: DbLock, purpose: str) -> bool:
        try:
            lock.acquire(purpose)
        except LockHeldError as e:
            log.info("event=poll_skipped reason=locked holder=%r", str(e))
            return False
        self.heartbeat.add(lock)
        return True

    def _give(self, lock: DbLock) -> None:
        self.heartbeat.discard(lock)
        lock.release()

    # -- stopping

    def _on_signal(self, name: str) -> None:
        if self._stop.is_set():
            log.warning("event=signal signal=%s action=cancel_now", name)
            self._force.set()
            return
        log.info("event=signal signal=%s action=stop inflight=%d", name, len(self._inflight))
        self._stop.set()

    def _on_lost(self, name: str) -> None:
        log.error("event=stop reason=lock_lost lock=%s", name)
        self._lost = name
        self._force.set()
        self._stop.set()

    async def _shut_down(self, scheduler: AsyncIOScheduler) -> None:
        """Start nothing new; let running jobs finish within the deadline, then cancel them."""
        scheduler.pause()
        began = time.monotonic()
        finished = await self._drain(self.settings.service.stop_timeout)
        if not finished:
            await self._cancel_all()
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # the shutdown runs on the loop
        log.info("event=shutdown finished_in_time=%s seconds=%.2f", finished, time.monotonic() - began)

    async def _drain(self, deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while pending := {t for t in self._inflight if not t.done()}:
            remaining = end - loop.time()
            if remaining <= 0 or self._force.is_set():
                return False
            forced = asyncio.ensure_future(self._force.wait())
            await asyncio.wait({*pending, forced}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            forced.cancel()
        return True

    async def _cancel_all(self) -> None:
        """Cancel every other task: the jobs and the downloads they started."""
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        log.warning("event=cancel tasks=%d", len(tasks))
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)


def _call_soon(loop: asyncio.AbstractEventLoop, func: Callable[[str], None], name: str) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: the service has stopped already
        loop.call_soon_threadsafe(func, name)
