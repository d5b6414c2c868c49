"""A cycle whose last stage (near-duplicates, stories, the judge) fails: the cycle fails and is
recorded so, its items stay stored and pending, and its sources still get their next polls.
Left due, every source would be polled again at every tick for as long as the failure lasted
(before this, a poison item made `serve` poll all its sources every minute). The next cycle,
with nothing due, does the pending work.

The failure is injected where the stage starts (the indexes it loads); the feed server, the
database and the cycle are the real ones."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import datetime

import pytest

from monitor.cli.poll import build_cycle
from monitor.collect.fetch import HttpxFetcher
from monitor.config import Config, load_config
from monitor.keep.clustering import ClusterSource, IndexCache, Indexes, VectorLookup
from monitor.pipeline.cycle import utcnow
from monitor.pipeline.run import run_cycle
from monitor.storage import SqlRepository, open_database
from tests.conftest import FeedServer, Workspace


class BrokenIndexes(IndexCache):
    """Indexes that cannot be loaded: the clustering stage fails on its first chunk."""

    def get(self, store: ClusterSource, vectors: VectorLookup | None = None) -> Indexes:
        raise RuntimeError("the indexes cannot be loaded")


async def one_cycle(config: Config, repo: SqlRepository, indexes: IndexCache, *, poll: bool) -> None:
    async with HttpxFetcher(config.settings.http) as fetcher:
        cycle = dataclasses.replace(build_cycle(config, repo, fetcher), indexes=indexes)
        await run_cycle(config.sources if poll else [], cycle, trigger="test")


@pytest.mark.sqlite_only  # reads the SQLite file itself
def test_a_cycle_whose_last_stage_fails_sets_the_next_polls_and_leaves_its_items_pending(
    feeds: FeedServer, workspace: Workspace
) -> None:
    url = feeds.put_file("/rss2.xml", "rss2.xml")
    workspace.sources({"id": "s", "url": url, "kind": "feed"})
    config = load_config(workspace.config, env={"MONITOR_DATABASE_URL": workspace.database_url}, cwd=workspace.root)
    repo = SqlRepository(open_database(config.database_url))
    repo.sync_sources(config.sources)
    started = utcnow()

    with pytest.raises(RuntimeError, match="cannot be loaded"):
        asyncio.run(one_cycle(config, repo, BrokenIndexes(), poll=True))
    with sqlite3.connect(workspace.database) as db:
        stored, unclustered = db.execute("SELECT count(*), count(*) - count(clustered_at) FROM item").fetchone()
        [(status,)] = db.execute("SELECT status FROM cycle").fetchall()
    assert stored > 0 and unclustered == stored and status == "crashed"
    next_poll = repo.source_state("s").next_poll_at
    assert isinstance(next_poll, datetime) and next_poll > started  # not due again at the next tick
    assert repo.has_unfinished_items()

    hits = feeds.hits.get("/rss2.xml")
    asyncio.run(one_cycle(config, repo, IndexCache(), poll=False))  # nothing due: the pending work
    assert not repo.has_unfinished_items()
    assert feeds.hits.get("/rss2.xml") == hits
