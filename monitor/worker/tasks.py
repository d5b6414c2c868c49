"""The jobs of `monitor worker`, registered on a Procrastinate app: a tick that finds the due
sources (and a due digest) and queues their jobs, a poll per source, an article fetch per
source, a judge batch, the digest, and the retry of a killed worker's jobs.

Why each guarantee holds:
- *A source is never polled by two workers at once*: every poll of a source carries the lock
  `source:ID`, and Procrastinate starts no job while another of its lock is `doing`.
- *A due poll is done once*: the tick is periodic, and Procrastinate defers a periodic task once
  per fire time however many workers run; a poll job carries the queueing lock `poll:ID` (one
  waiting at most), and a poll job checks again, under the source's lock, that the source is
  still due, so a second job queued while the first ran finds it done and does nothing.
- *A killed worker's job is retried, not lost*: workers write heartbeats; `retry_stalled` puts
  the `doing` jobs of a worker whose heartbeat is older than `stalled_after` back to `todo`.
  Every write is one transaction and dedupe is by keys with unique constraints, so a poll run
  again stores nothing twice.
- *The digest is made once*: its job has the lock `digest` and checks, under it, that its
  period is still due (`monitor.schedule.due_digest_period`); deliveries have their ledger.
  While its period is incomplete (a poll started before its end still runs, an item fetched in
  it is still to be judged) it queues itself again and ends, rather than being retried (see
  `digest`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Status

from monitor.backoff import is_due
from monitor.collect.articles import RobotsCache
from monitor.config import Config
from monitor.pipeline.cycle import ArticleBudget, Clock, Cycle, cluster_and_match, enrich_items, poll_one
from monitor.service import produce_digest
from monitor.settings import Source
from monitor.tell.schedule import cron_trigger, due_digest_period
from monitor.worker import plan

log = logging.getLogger(__name__)

# The database's clock stamps a job's start, the worker's clock the digest's period: a poll that
# started up to this long after the period's end (by the database) is waited for too.
CLOCK_MARGIN = timedelta(minutes=1)
# Procrastinate records each start of a job (`todo` → `doing`, again on a retry) as an event.
_POLLS_STARTED_BEFORE = """
SELECT count(*) AS running FROM procrastinate_jobs AS job
 WHERE job.status = 'doing' AND job.task_name = %(task)s
   AND coalesce(
         (SELECT max(event.at) FROM procrastinate_events AS event
           WHERE event.job_id = job.id AND event.type = 'started'),
         '-infinity') < %(moment)s
"""


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker runs: jobs at once, and the heartbeat by which a killed one is noticed."""

    concurrency: int = 8
    heartbeat: float = 10.0  # seconds between a worker's heartbeats
    stalled_after: float = 30.0  # seconds without a heartbeat: its `doing` jobs are retried
    articles_again: float = 5.0  # seconds before the rest of a source's articles is fetched
    digest_again: float = 5.0  # seconds before a digest whose period is incomplete looks again
    digest_patience: float = 1800.0  # seconds after its period's end a digest waits at most
    parse_processes: bool = True  # parse feeds in processes of their own, one per core
    delete_jobs: str = "successful"  # finished jobs leave the queue's table ("never": kept, to inspect)


@dataclass(frozen=True)
class Runtime:
    """What the jobs work with, built once per worker process (`monitor.worker.run`)."""

    config: Config
    cycle: Cycle  # the repository, the fetcher, the judge: shared by the process's jobs
    settings: WorkerSettings
    clock: Clock
    started_at: datetime

    @property
    def sources(self) -> dict[str, Source]:
        return {s.id: s for s in self.config.sources if s.enabled}

    def fresh_cycle(self) -> Cycle:
        """The cycle with a robots.txt cache of its own (read once per host and job)."""
        fetcher = self.cycle.fetcher
        return dataclasses.replace(self.cycle, robots=RobotsCache(fetcher, self.config.settings.http.user_agent))


class Jobs:
    """The monitor's jobs, as methods registered on a Procrastinate app (`register`): each a
    short sequence of pipeline calls; blocking database and CPU work in threads, so that the
    worker's event loop keeps its heartbeat going."""

    def __init__(self, app: App, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.repo = runtime.cycle.repo
        self.settings = runtime.config.settings

    def register(self) -> None:
        """Every job on the app, and the periodic tick and stalled-job check."""
        task = self.app.task
        tick = task(name=plan.TICK, queueing_lock=plan.TICK, lock=plan.TICK)(self.tick)
        task(name=plan.POLL)(self.poll_source)
        task(name=plan.ARTICLES)(self.fetch_articles)
        task(name=plan.MATCH)(self.match)
        task(name=plan.DIGEST)(self.digest)
        stalled = task(name=plan.RETRY_STALLED, queueing_lock=plan.RETRY_STALLED, lock=plan.RETRY_STALLED)(
            self.retry_stalled
        )
        self.app.periodic(cron=plan.tick_cron(self.settings.schedule.poll_tick), periodic_id="tick")(tick)
        self.app.periodic(cron=plan.tick_cron(self.runtime.settings.heartbeat), periodic_id="stalled")(stalled)

    # -- queueing

    async def defer(
        self, name: str, *, lock: str | None = None, queueing_lock: str | None = None, later: float = 0.0, **kwargs: Any
    ) -> bool:
        """Queue a job (`later` seconds from now); False when one with the same queueing lock
        waits already."""
        when = {"seconds": later} if later else None
        try:
            configured = self.app.configure_task(name, lock=lock, queueing_lock=queueing_lock, schedule_in=when)
            await configured.defer_async(**kwargs)
        except AlreadyEnqueued:
            return False
        return True

    async def defer_poll(self, source_id: str) -> bool:
        lock, queueing = plan.source_lock(source_id), plan.poll_queueing_lock(source_id)
        return await self.defer(plan.POLL, lock=lock, queueing_lock=queueing, source_id=source_id)

    async def defer_match(self) -> bool:
        return await self.defer(plan.MATCH, lock=plan.MATCH_LOCK, queueing_lock=plan.MATCH_LOCK)

    async def defer_digest(self, *, later: float = 0.0) -> bool:
        return await self.defer(plan.DIGEST, lock=plan.DIGEST_LOCK, queueing_lock=plan.DIGEST_LOCK, later=later)

    async def defer_articles(self, source_id: str, *, later: float = 0.0) -> bool:
        lock = plan.articles_lock(source_id)
        return await self.defer(plan.ARTICLES, lock=lock, queueing_lock=lock, later=later, source_id=source_id)

    # -- the jobs

    async def tick(self, timestamp: int) -> dict[str, int]:
        """Queue a poll for each due source, the digest when one is due, and a judge batch
        when items are left to cluster or judge. A source whose poll is running (or stalled:
        its worker died, and `retry_stalled` will put the job back) gets none."""
        now = self.runtime.clock()
        states = await asyncio.to_thread(self.repo.poll_states)
        doing = await self.app.job_manager.list_jobs_async(task=plan.POLL, status="doing")
        running = {job.task_kwargs.get("source_id") for job in doing}
        sources = list(self.runtime.sources.values())
        due = [s for s in plan.due_sources(sources, states, now, self.settings.poll) if s.id not in running]
        queued = sum([await self.defer_poll(s.id) for s in due])
        digest = await self.digest_is_due(now) and await self.defer_digest()
        match = await asyncio.to_thread(self.repo.has_unfinished_items) and await self.defer_match()
        log.info("event=tick polls_queued=%d digest=%s match=%s", queued, digest, match)
        return {"polls": queued, "digest": int(digest), "match": int(match)}

    async def digest_is_due(self, now: datetime) -> bool:
        schedule = self.settings.schedule
        last_end = await asyncio.to_thread(self.repo.last_digest_end)
        trigger = cron_trigger(schedule.digest_cron, schedule.timezone)
        return plan.digest_due(trigger, last_end, now, self.runtime.started_at)

    async def poll_source(self, source_id: str) -> str:
        """Poll one source, if it is still due (another job of its lock may have polled it
        since this one was queued); store its batch; queue its articles and a judge batch."""
        source = self.runtime.sources.get(source_id)
        if source is None:
            return "unknown"
        state = await asyncio.to_thread(self.repo.source_state, source_id)
        errors = state.consecutive_errors
        if not is_due(state.next_poll_at, self.runtime.clock(), self.settings.poll, source.interval, errors=errors):
            return "not_due"
        outcome = await poll_one(source, self.runtime.fresh_cycle(), ArticleBudget(0, time.monotonic()))
        await asyncio.to_thread(self.repo.schedule_polls, [outcome])
        if outcome.articles_left:
            await self.defer_articles(source_id)
        if outcome.counts.new or outcome.counts.duplicate:
            await self.defer_match()
        return outcome.status

    async def fetch_articles(self, source_id: str) -> int:
        """Fetch a source's pending articles within the `[poll]` shares; what is left is
        queued again a little later (a slow site does not hold a worker for ever)."""
        source = self.runtime.sources.get(source_id)
        if source is None:
            return 0
        left = await enrich_items(source, self.runtime.fresh_cycle(), ArticleBudget.start(self.settings.poll))
        if left:
            await self.defer_articles(source_id, later=self.runtime.settings.articles_again)
        await self.defer_match()
        return left

    async def match(self) -> None:
        """Near-duplicates, stories and the claims for every item not done yet (in a thread:
        the event loop keeps the worker's heartbeat going)."""
        cycle = self.runtime.cycle
        if cycle.verifier is not None:
            cycle.verifier.start_cycle()
        await asyncio.to_thread(cluster_and_match, cycle)

    async def digest(self) -> str:
        """The digest of the period that is due, once: under the `digest` lock, a period made
        already is skipped. While the period is not complete, it queues a digest `digest_again`
        seconds later and ends: a poll that started before the period's end is still running (it
        may store items fetched in the period), or an item fetched in the period is still to be
        clustered or judged (a judge batch is on it, or queued). Polls and judge batches of
        items fetched later do not hold it back: with many sources some poll is nearly always
        running, and a digest waiting for none to run could wait for ever. Nor does anything,
        `digest_patience` after the period's end: a poll stuck in a live worker, or an item
        whose judging fails every time, must not cost the reader every digest after; the
        digest is made, and the log says what it did not wait for.

        Why not a Procrastinate retry (as it was): a retried job goes back to `todo`, and when the
        tick had queued the next digest meanwhile (the same queueing lock), the retry failed on
        that lock's unique index and left the job `doing` in a live worker for ever, its lock
        holding back every later digest: no digest again (seen in CI, a loaded machine). Ending
        and queueing anew cannot collide: when a digest waits already, that one looks again."""
        now = self.runtime.clock()
        schedule = self.settings.schedule
        trigger = cron_trigger(schedule.digest_cron, schedule.timezone)
        period = due_digest_period(trigger, await asyncio.to_thread(self.repo.last_digest_end), now)
        if period is None:
            return "already made"
        start, end = period
        polls = await self.polls_started_before(end + CLOCK_MARGIN)
        unfinished = await asyncio.to_thread(self.repo.has_unfinished_items, fetched_before=end)
        patient = now - end < timedelta(seconds=self.runtime.settings.digest_patience)
        if (polls or unfinished) and patient:
            queued = await self.defer_digest(later=self.runtime.settings.digest_again)
            log.info("event=digest_waits polls=%d unfinished=%s queued_again=%s", polls, unfinished, queued)
            return "waiting"
        if polls or unfinished:
            log.warning("event=digest_incomplete end=%s polls_running=%d items_unfinished=%s", end, polls, unfinished)
        config = self.runtime.config
        outcome = await asyncio.to_thread(produce_digest, self.repo, config, start=start, end=end, now=now)
        log.info("event=digest start=%s end=%s items=%d path=%s", start, end, outcome.digest.item_count, outcome.path)
        return str(outcome.path)

    async def polls_started_before(self, moment: datetime) -> int:
        """How many poll jobs are running that started before `moment`: they may still store
        items fetched before it. A running poll whose start is not recorded counts too."""
        row = await self.app.connector.execute_query_one_async(_POLLS_STARTED_BEFORE, task=plan.POLL, moment=moment)
        return int(row["running"])

    async def retry_stalled(self, timestamp: int) -> int:
        """Put back to `todo` the jobs of workers whose heartbeat stopped (killed, frozen). One
        check at a time (its lock): two reading the same list would put back a job that the
        first one's retry had already given to a live worker, and run it twice."""
        jobs = self.app.job_manager
        count = 0
        for job in await jobs.get_stalled_jobs(seconds_since_heartbeat=self.runtime.settings.stalled_after):
            try:
                await jobs.retry_job(job)
            except UniqueViolation:
                # The same job waits already (its queueing lock): this one would block it for
                # ever by holding the lock while `doing`; ended, it lets it run.
                await jobs.finish_job(job, Status.FAILED, delete_job=False)
                log.warning("event=job_superseded job=%s task=%s lock=%s", job.id, job.task_name, job.lock)
                continue
            log.warning("event=job_retried job=%s task=%s lock=%s reason=stalled", job.id, job.task_name, job.lock)
            count += 1
        return count


def register_tasks(app: App, runtime: Runtime) -> None:
    """Every job of the monitor on `app` (`Jobs.register`)."""
    Jobs(app, runtime).register()
