"""`monitor worker` on one PostgreSQL (issue 23): three worker processes against 300 loopback
sources poll every due source exactly once, store what a single `monitor run --once` stores,
make each digest once; a worker killed with SIGKILL mid-cycle loses no item and duplicates
none (its jobs are retried by the others once its heartbeat stops).

Real things only: a PostgreSQL cluster of the test's own (tests/pgserver.py), an HTTP server on
127.0.0.1, the monitor as subprocesses, Procrastinate's own tables read with SQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from monitor.storage import open_database
from tests.loopback import Handler, ScriptedServer, item, rss, scripted_server
from tests.pgserver import PgServer

pytest.importorskip("procrastinate")

from monitor.cli.poll import build_cycle
from monitor.collect.fetch import HttpxFetcher
from monitor.config import Config, load_config
from monitor.pipeline.cycle import utcnow
from monitor.storage import SqlRepository
from monitor.tell.schedule import cron_trigger, due_digest_period
from monitor.worker import plan
from monitor.worker.run import build_app, prepare_database
from monitor.worker.tasks import Jobs, Runtime, WorkerSettings

SOURCES = 300
ITEMS = 5
REPO = Path(__file__).resolve().parents[2]
MONITOR_TOML = """
[http]
per_host = 8
timeout = 30
deadline = 60

[poll]
article = "never"
jitter = 0

[schedule]
poll_tick = 1
digest_cron = "*/15 * * * * *"

[judge]
encoder = "none"
"""
# A heartbeat a second; a worker silent for 8 s is taken for dead (a loaded 2-core machine can hold an
# event loop up for seconds: a live worker taken for dead would have its jobs run twice)
WORKER_ARGS = ["--concurrency", "8", "--heartbeat", "1", "--stalled-after", "8", "--keep-jobs"]


def feed_body(n: int) -> bytes:
    """`ITEMS` items of its own, and one whose link another source (n - 1) has too: a
    duplicate across sources (which of the two is the original depends on which is stored
    first)."""
    own = [item(f"s{n}-{k}", host=f"s{n}.example") for k in range(ITEMS)]
    shared = item(f"s{(n - 1) % SOURCES}-0", host=f"s{(n - 1) % SOURCES}.example")
    return rss(*own, shared.replace("<guid>", f"<guid>x{n}-"), title=f"source {n}").encode()


@dataclass
class Feeds:
    server: ScriptedServer
    delay: list[float]  # seconds each response waits: the cycle lasts long enough to kill a worker in

    def hits(self) -> Counter[str]:
        return Counter({p: n for p, n in self.server.hits.items() if p.startswith("/f")})


@pytest.fixture(scope="module")
def feeds() -> Iterator[Feeds]:
    delay = [0.0]
    with scripted_server() as server:
        for n in range(SOURCES):
            body = feed_body(n)

            def respond(h: Handler, stop: threading.Event, body: bytes = body) -> None:
                stop.wait(delay[0])
                h.respond(body)

            server.script(f"/f{n}.xml", respond)
        yield Feeds(server, delay)


def make_root(root: Path, feeds: Feeds) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "storage").mkdir()
    (root / "config" / "monitor.toml").write_text(MONITOR_TOML, encoding="utf-8")
    blocks = [
        f'[[source]]\nid = "s{n:03d}"\nurl = "{feeds.server.base}/f{n}.xml"\nkind = "feed"\ninterval = 3600\n'
        for n in range(SOURCES)
    ]
    (root / "config" / "sources.toml").write_text("\n".join(blocks), encoding="utf-8")
    return root


def monitor_env(url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    if url:
        env["MONITOR_DATABASE_URL"] = url
    return env


def monitor(root: Path, url: str | None, *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(root / "config"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=monitor_env(url),
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def stored(root: Path, url: str | None) -> Counter[tuple[str, str]]:
    """Each stored item as (source, link), counted (database ids differ between runs, these do
    not); and every link has exactly one original, whichever source was stored first."""
    items = json.loads(monitor(root, url, "items", "--json"))
    originals = Counter(i["url"] for i in items if i["duplicate_of"] is None)
    assert set(originals.values()) == {1} and set(originals) == {i["url"] for i in items}
    return Counter((i["source"], i["url"]) for i in items)


@pytest.fixture(scope="module")
def reference(feeds: Feeds, tmp_path_factory: pytest.TempPathFactory) -> Counter[tuple[str, str]]:
    """What one `monitor run --once` on SQLite stores from the same sources."""
    root = make_root(tmp_path_factory.mktemp("single"), feeds)
    feeds.delay[0] = 0.0
    monitor(root, None, "run", "--once")
    result = stored(root, None)
    assert len(result) == SOURCES * (ITEMS + 1)
    return result


class Workers:
    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url
        self.procs: list[subprocess.Popen[bytes]] = []
        self.engine = create_engine(url)

    def start(self, count: int) -> None:
        for n in range(count):
            with (self.root / f"worker{n}.log").open("wb") as log:  # the child keeps its own descriptor
                self.procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "monitor",
                            "--config",
                            str(self.root / "config"),
                            "worker",
                            *WORKER_ARGS,
                            "--name",
                            f"w{n}",
                        ],
                        cwd=self.root,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=monitor_env(self.url),
                    )
                )

    def scalar(self, sql: str) -> Any:
        with self.engine.connect() as connection:
            return connection.scalar(text(sql))

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for n, proc in enumerate(self.procs):
                if proc.poll() not in (None, -signal.SIGKILL):
                    pytest.fail(f"worker {n} exited {proc.returncode}:\n{self.log(n)}")
            if time.monotonic() > deadline:
                workers = range(len(self.procs))
                tails = "\n".join(f"-- worker {n}:\n{self.told(n)}{self.log(n)[-2000:]}" for n in workers)
                pytest.fail(f"never: {what}\nunfinished jobs: {self.unfinished()}\n{self.sessions()}\n{tails}")
            time.sleep(0.1)

    def unfinished(self) -> list[Any]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT id, task_name, status, attempts, args FROM procrastinate.procrastinate_jobs "
                        "WHERE status IN ('todo', 'doing') "
                        "AND task_name NOT IN ('monitor.tick', 'monitor.retry_stalled')"
                    )
                ).all()
            )

    def sessions(self) -> str:
        """What each connection to the test's database is doing, and waiting on: what a stuck
        job waits for."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT pid, application_name, state, wait_event_type, wait_event, xact_start, "
                    "pg_blocking_pids(pid), left(query, 300) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        return "sessions:\n" + "\n".join(map(str, rows))

    def all_polled(self) -> bool:
        return self.scalar("SELECT count(*) FROM source WHERE next_poll_at IS NOT NULL") == SOURCES

    def queue_idle(self) -> bool:
        """No poll, judge or digest job waiting or running."""
        return (
            self.scalar(
                "SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE status IN ('todo', 'doing') "
                "AND task_name NOT IN ('monitor.tick', 'monitor.retry_stalled')"
            )
            == 0
        )

    def told(self, n: int) -> str:
        """The lines of worker `n`'s log about the jobs still unfinished, and its warnings."""
        ids = {f"[{job[0]}]" for job in self.unfinished()}
        lines = [line for line in self.log(n).splitlines() if any(i in line for i in ids) or "WARNING" in line]
        return "".join(f"{line}\n" for line in lines[-30:]) + "...\n"

    def log(self, n: int) -> str:
        return (self.root / f"worker{n}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for n, proc in enumerate(self.procs):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"worker {n} did not stop on SIGTERM:\n{self.log(n)[-3000:]}")
        self.engine.dispose()


@pytest.fixture
def workers(feeds: Feeds, pg: PgServer, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Workers]:
    root = make_root(tmp_path / "scale", feeds)
    url = pg.create_database(f"workers_{request.node.name[:40].lower()}")
    open_database(url).dispose()  # the schema, so that the test can read the tables from the start
    running = Workers(root, url)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.slow
def test_three_workers_poll_each_due_source_once_and_make_each_digest_once(
    workers: Workers, feeds: Feeds, reference: Counter[tuple[str, str]]
) -> None:
    feeds.server.hits.clear()
    feeds.delay[0] = 0.05
    workers.start(3)
    workers.wait_for("every source polled", workers.all_polled)
    workers.wait_for("the queue drained", workers.queue_idle)
    time.sleep(3)  # three more ticks: none may queue a poll again (every source is due in an hour)
    hits = feeds.hits()
    assert set(hits) == {f"/f{n}.xml" for n in range(SOURCES)}
    assert [p for p, n in hits.items() if n != 1] == []  # every due poll exactly once
    polls = workers.scalar(
        "SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE task_name = 'monitor.poll_source' "
        "AND status = 'succeeded'"
    )
    assert polls >= SOURCES
    assert workers.scalar("SELECT count(DISTINCT worker_id) FROM procrastinate.procrastinate_jobs") >= 2
    assert stored(workers.root, workers.url) == reference

    workers.wait_for("a digest", lambda: workers.scalar("SELECT count(*) FROM digest") >= 1, timeout=60)
    workers.wait_for("the queue drained", workers.queue_idle)
    with workers.engine.connect() as connection:
        periods = connection.execute(text("SELECT period_start, period_end, path FROM digest ORDER BY 1")).all()
        deliveries = connection.execute(
            text("SELECT digest_id, count(*) FROM delivery WHERE channel = 'file' GROUP BY 1")
        ).all()
    assert len({(start, end) for start, end, _ in periods}) == len(periods)  # each period once
    assert all(later[0] == earlier[1] for earlier, later in itertools.pairwise(periods))  # tiled
    assert sorted(p.name for p in (workers.root / "storage" / "digests").glob("*.md")) == sorted(
        Path(path).name for _, _, path in periods
    )
    assert all(n == 1 for _, n in deliveries) and len(deliveries) == len(periods)  # delivered once each


@pytest.mark.slow
def test_a_worker_killed_mid_cycle_loses_no_item_and_duplicates_none(
    workers: Workers, feeds: Feeds, reference: Counter[tuple[str, str]]
) -> None:
    feeds.server.hits.clear()
    feeds.delay[0] = 0.3
    workers.start(3)
    workers.wait_for("a third of the sources polled", lambda: sum(feeds.hits().values()) >= SOURCES // 3)
    victim = workers.procs[0]
    victim.kill()  # SIGKILL: no handler runs, its jobs stay `doing`
    victim.wait()
    workers.wait_for("every source polled", workers.all_polled)
    workers.wait_for("the queue drained", workers.queue_idle)
    assert stored(workers.root, workers.url) == reference
    hits = feeds.hits()
    assert set(hits) == {f"/f{n}.xml" for n in range(SOURCES)}
    # the killed worker's jobs were taken back and done by the others
    retried = workers.scalar(
        "SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE task_name = 'monitor.poll_source' "
        "AND attempts > 0 AND status = 'succeeded'"
    )
    assert retried >= 1, workers.log(1)[-3000:]
    assert (
        workers.scalar(
            "SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE status = 'doing' "
            "AND worker_id IS NOT NULL AND worker_id NOT IN (SELECT id FROM procrastinate.procrastinate_workers)"
        )
        == 0
    )
    # a source is polled more than once only when the kill cut its poll: at most the victim's concurrency
    assert sum(n - 1 for n in hits.values()) <= 8


@pytest.mark.slow
def test_the_health_check_sees_a_live_worker_and_not_a_killed_one(feeds: Feeds, pg: PgServer, tmp_path: Path) -> None:
    root = make_root(tmp_path / "check", feeds)
    (root / "config" / "sources.toml").write_text("", encoding="utf-8")  # nothing to poll
    url = pg.create_database("worker_check")
    check = [sys.executable, "-m", "monitor", "--config", str(root / "config"), "worker", "--heartbeat", "1"]
    check += ["--stalled-after", "3", "--check"]

    def healthy() -> bool:
        done = subprocess.run(check, cwd=root, capture_output=True, text=True, env=monitor_env(url), timeout=60)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode == 0

    assert not healthy()  # no queue yet, no worker
    with (root / "worker.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(root / "config"), "worker", "--heartbeat", "1"],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=monitor_env(url),
        )
    try:
        deadline = time.monotonic() + 60
        while not healthy():
            assert time.monotonic() < deadline, (root / "worker.log").read_text()
            time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait()
    time.sleep(4)  # past --stalled-after: its last heartbeat is stale
    assert not healthy()
    alive = Path(tempfile.gettempdir()) / f"monitor-worker-{socket.gethostname()}-{proc.pid}.alive"
    assert alive.exists()  # killed: nothing removed it; the check went by its age
    alive.unlink()


def test_a_worker_on_sqlite_is_refused_with_a_clear_line(workspace: Any) -> None:
    workspace.sources({"id": "s", "url": "http://127.0.0.1:9/feed.xml", "kind": "feed", "enabled": False})
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(workspace.config), "worker"],
        cwd=workspace.root,
        capture_output=True,
        text=True,
        env=monitor_env(None),
        timeout=120,
    )
    assert done.returncode == 1
    assert "monitor worker needs PostgreSQL" in done.stderr and "Traceback" not in done.stderr


ARTICLE_SOURCES, ARTICLES_EACH = 12, 3


def article_page(title: str) -> bytes:
    text = " ".join(
        f"{title}: the US Commerce Department's export controls on Nvidia chips to China, part {k}." for k in range(8)
    )
    body = f"<body><article><h1>{title}</h1><p>{text}</p></article></body>"
    return f"<html><head><title>{title}</title></head>{body}</html>".encode()


@pytest.mark.slow
def test_workers_fetch_the_articles_and_judge_every_relevant_item(pg: PgServer, tmp_path: Path) -> None:
    """The article and judge jobs: every relevant item gets its article tried and its claims
    judged, by two workers, each article requested once."""
    root = tmp_path / "articles"
    (root / "config").mkdir(parents=True)
    (root / "storage").mkdir()
    (root / "config" / "monitor.toml").write_text(
        MONITOR_TOML.replace('article = "never"', 'article = "relevant"'), encoding="utf-8"
    )
    with scripted_server() as server:
        blocks = []
        for n in range(ARTICLE_SOURCES):
            entries = []
            for k in range(ARTICLES_EACH):
                title = f"Nvidia H20 export controls tightened, report {n}-{k}"
                link = server.doc(f"/a/{n}-{k}.html", article_page(title), content_type="text/html; charset=utf-8")
                entries.append(
                    f"<title>{title}</title><link>{link}</link><guid>a{n}-{k}</guid>"
                    f"<description>BIS and the Entity List: {title}.</description>"
                )
            server.doc(f"/feed{n}.xml", rss(*entries))
            blocks.append(f'[[source]]\nid = "a{n:02d}"\nurl = "{server.base}/feed{n}.xml"\nkind = "feed"\n')
        (root / "config" / "sources.toml").write_text("\n".join(blocks), encoding="utf-8")
        url = pg.create_database("worker_articles")
        open_database(url).dispose()
        workers = Workers(root, url)
        try:
            workers.start(2)
            total = ARTICLE_SOURCES * ARTICLES_EACH
            workers.wait_for(
                "every article tried",
                lambda: workers.scalar("SELECT count(*) FROM item WHERE article_status IS NOT NULL") == total,
            )
            workers.wait_for("the queue drained", workers.queue_idle)
            workers.wait_for(
                "every relevant original judged",
                lambda: (
                    workers.scalar(
                        "SELECT count(*) FROM item WHERE relevant AND duplicate_of IS NULL AND matched_at IS NULL"
                    )
                    == 0
                ),
            )
            assert workers.scalar("SELECT count(*) FROM item WHERE article_status = 'ok'") == total
            assert workers.scalar("SELECT count(*) FROM item WHERE relevant") == total
            assert workers.scalar("SELECT count(*) FROM item WHERE clustered_at IS NULL") == 0
            hits = {p: n for p, n in server.hits.items() if p.startswith("/a/")}
            assert len(hits) == total and set(hits.values()) == {1}
            tasks = workers.scalar(
                "SELECT count(DISTINCT task_name) FROM procrastinate.procrastinate_jobs WHERE status = 'succeeded' "
                "AND task_name IN ('monitor.fetch_articles', 'monitor.match')"
            )
            assert tasks == 2
        finally:
            workers.stop()


def in_process_worker(pg: PgServer, root: Path, sources: str) -> tuple[Config, Engine]:
    """The config and a prepared database (its own, named after `root`) of a worker that runs in
    the test's process."""
    (root / "config").mkdir(parents=True)
    (root / "storage").mkdir()
    (root / "config" / "monitor.toml").write_text(MONITOR_TOML, encoding="utf-8")
    (root / "config" / "sources.toml").write_text(sources, encoding="utf-8")
    url = pg.create_database(f"worker_{root.name}")
    config = load_config(root / "config", env={"MONITOR_DATABASE_URL": url}, cwd=root)
    engine = open_database(url)
    prepare_database(engine, config)
    return config, engine


class RacedJobs(Jobs):
    """The monitor's jobs, but the digest finds the tick's next digest queued while it runs: the
    moment at which a loaded machine's tick fires (deterministic here)."""

    raced = False

    async def digest(self) -> str:
        if not self.raced:  # the tick, meanwhile, once: this job is `doing`, so the next one is queued
            self.raced = True
            assert await self.defer_digest()
        return await super().digest()


def test_a_digest_that_waits_for_a_poll_ends_and_leaves_one_digest_queued(pg: PgServer, tmp_path: Path) -> None:
    """A digest that finds a poll under way queues itself again and ends, also when the tick
    has queued the next one meanwhile. It was retried by Procrastinate instead: the retry
    failed on the queued one's queueing lock and left the job `doing` for ever in a live
    worker, holding the `digest` lock: no digest was made again (the CI failure of stop 29)."""
    config, engine = in_process_worker(pg, tmp_path / "digest", "")
    settings = WorkerSettings(concurrency=1, digest_again=30, delete_jobs="never")
    app = build_app(engine, settings)

    def jobs(status: str) -> list[tuple[str, str]]:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT task_name, status FROM procrastinate.procrastinate_jobs WHERE status = :s ORDER BY id"),
                {"s": status},
            )
            return [(name, state) for name, state in rows]

    async def scenario() -> None:
        async with HttpxFetcher(config.settings.http) as fetcher, app.open_async():
            cycle = build_cycle(config, SqlRepository(engine), fetcher)
            raced = RacedJobs(app, Runtime(config, cycle, settings, utcnow, utcnow() - timedelta(hours=1)))
            app.task(name=plan.DIGEST)(raced.digest)  # the two jobs at play; no periodic tick
            app.task(name=plan.POLL)(raced.poll_source)
            await raced.defer_poll("elsewhere")  # a poll another worker runs: `doing`, not ours to run
            with engine.begin() as connection:
                connection.execute(text("SET LOCAL search_path TO procrastinate"))  # its triggers' tables
                connection.execute(text("UPDATE procrastinate_jobs SET status = 'doing'"))
            assert await raced.defer_digest()
            await app.run_worker_async(queues=None, concurrency=1, wait=False, listen_notify=False, delete_jobs="never")

    try:
        asyncio.run(scenario())
        assert jobs("doing") == [(plan.POLL, "doing")]  # the digest ended: its lock is free
        # the raced one and the tick's: both saw the poll, both ended; one digest looks again, later
        assert jobs("succeeded") == [(plan.DIGEST, "succeeded")] * 2
        assert jobs("todo") == [(plan.DIGEST, "todo")]
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM digest")) == 0  # the poll still runs
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("poll_started", "item_fetched", "patience", "made"),
    [
        (-30, None, 3600, False),  # a poll that started in the period may still store items of it
        (120, None, 3600, True),  # one that started after it (beyond the clocks' margin) cannot
        (None, -30, 3600, False),  # an item fetched in the period is still to be judged
        (None, 30, 3600, True),  # one fetched after it belongs to the next digest
        (None, None, 3600, True),
        (-30, -30, 0, True),  # past its patience, a digest is made whatever is left
    ],
    ids=["poll-before-end", "poll-after-end", "item-before-end", "item-after-end", "idle", "out-of-patience"],
)
def test_a_digest_waits_only_for_the_work_of_its_own_period(
    pg: PgServer, tmp_path: Path, poll_started: int | None, item_fetched: int | None, patience: int, made: bool
) -> None:
    """A digest waits for the polls that started before its period's end and for the items
    fetched in it; polls and items of later are the next digest's. It waited for any running
    poll or judge batch: with many sources some poll nearly always runs, and it could wait for
    ever. And it waits `digest_patience` at most: a stuck poll or an item whose judging always
    fails does not cost every digest after. Seconds are relative to the period's end."""
    source = '[[source]]\nid = "s"\nurl = "http://127.0.0.1:9/feed.xml"\nkind = "feed"\ninterval = 3600\n'
    config, engine = in_process_worker(pg, tmp_path / "period", source)
    settings = WorkerSettings(concurrency=1, digest_again=30, digest_patience=patience, delete_jobs="never")
    app = build_app(engine, settings)
    schedule = config.settings.schedule
    now = utcnow()
    period = due_digest_period(cron_trigger(schedule.digest_cron, schedule.timezone), None, now)
    assert period is not None
    end = period[1]
    if item_fetched is not None:
        at = end + timedelta(seconds=item_fetched)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO item (source_id, guid, title, summary, lang, published_at, fetched_at, "
                    "content_hash, relevant, verify_pending, clustered_at) "
                    "VALUES ('s', 'g', 'Nvidia H20', '', 'en', :at, :at, 'h', true, false, :at)"
                ),
                {"at": at.replace(tzinfo=None)},
            )

    async def scenario() -> None:
        async with HttpxFetcher(config.settings.http) as fetcher, app.open_async():
            cycle = build_cycle(config, SqlRepository(engine), fetcher)
            jobs = Jobs(app, Runtime(config, cycle, settings, lambda: now, now - timedelta(hours=1)))
            app.task(name=plan.DIGEST)(jobs.digest)
            if poll_started is not None:  # a poll another worker runs, started then
                await jobs.defer_poll("elsewhere")
                with engine.begin() as connection:
                    connection.execute(text("SET LOCAL search_path TO procrastinate"))
                    connection.execute(text("UPDATE procrastinate_jobs SET status = 'doing'"))
                    connection.execute(
                        text("UPDATE procrastinate_events SET at = :at WHERE type = 'started'"),
                        {"at": end + timedelta(seconds=poll_started)},
                    )
            assert await jobs.defer_digest()
            await app.run_worker_async(queues=None, concurrency=1, wait=False, listen_notify=False, delete_jobs="never")

    try:
        asyncio.run(scenario())
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM digest")) == int(made)
            waiting = connection.scalar(
                text("SELECT count(*) FROM procrastinate.procrastinate_jobs WHERE task_name = :t AND status = 'todo'"),
                {"t": plan.DIGEST},
            )
        assert waiting == int(not made)  # a digest that waits has queued the next look
    finally:
        engine.dispose()
