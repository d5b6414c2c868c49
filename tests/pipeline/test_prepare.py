"""Preparing downloads (parse, normalise, judge relevance) in worker processes gives what
preparing them in the main process gives; a dead worker costs nothing but time."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import build_cycle, main
from monitor.collect.fetch import HttpxFetcher
from monitor.config import load_config
from monitor.keep.default_topic import DEFAULT_TOPIC
from monitor.keep.relevance import TopicMatcher
from monitor.pipeline import cycle as pipeline
from monitor.pipeline.prepare import prepare_batch, prepare_in_worker, start_worker
from monitor.records import FetchResult
from monitor.settings import Source
from monitor.storage import SqlRepository, open_database
from tests.conftest import DATA, FeedServer, Workspace

FIXTURES = [
    ("rss2.xml", "application/rss+xml"),
    ("atom.xml", "application/atom+xml"),
    ("rdf.xml", "application/rdf+xml"),
    ("gb18030.xml", "text/xml"),
    ("big5.xml", "text/xml"),
    ("malformed.xml", "application/xml"),
]
COPIES = 4  # 24 sources: over the pool's threshold
multi_core = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the pool is used only on several cores")


def _stored(capsys: pytest.CaptureFixture[str]) -> list[tuple[Any, ...]]:
    capsys.readouterr()
    assert main(["items", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    keys = ("source", "url", "title", "summary", "lang", "date_note", "relevant_why", "relevant")
    # An undated item is dated when fetched, which differs between the two runs.
    return sorted((*(str(item[k]) for k in keys), item["date_note"] or item["published_at"]) for item in items)


def _result(name: str, content_type: str) -> FetchResult:
    body = (DATA / "feeds" / name).read_bytes()
    at = datetime(2025, 9, 1, tzinfo=UTC)
    return FetchResult("s", f"http://127.0.0.1/{name}", 200, body, {"content-type": content_type}, at)


@pytest.mark.sqlite_only
@multi_core
def test_a_cycle_of_many_sources_prepares_in_workers_what_the_main_process_would(
    feeds: FeedServer,
    workspace: Workspace,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries = [
        {"id": f"s{n}-{name.split('.')[0]}", "url": feeds.put_file(f"/{n}/{name}", name, ctype), "kind": "feed"}
        for n in range(COPIES)
        for name, ctype in FIXTURES
    ]
    workspace.sources(*entries)
    with caplog.at_level(logging.DEBUG, logger="monitor.pipeline.cycle"):
        assert main(["run", "--once"]) == 0
    assert "worker processes" in caplog.text
    in_workers = _stored(capsys)

    workspace.database.unlink()
    monkeypatch.setattr(pipeline, "PARSE_POOL_MIN_SOURCES", 10_000)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="monitor.pipeline.cycle"):
        assert main(["run", "--once"]) == 0
    assert "worker processes" not in caplog.text
    in_main = _stored(capsys)

    assert len(in_workers) == COPIES * 13  # 3 + 2 + 2 + 2 + 2 + 2 entries per copy
    assert in_workers == in_main
    assert any(row[-2] == "True" for row in in_main)  # relevance was judged, not left at its default


def test_a_worker_prepares_exactly_what_the_main_process_does() -> None:
    topic = TopicMatcher(DEFAULT_TOPIC)
    source = Source(id="s", url="http://127.0.0.1/feed.xml", kind="feed")
    tolerance = timedelta(hours=1)
    start = (os.getpid(), topic.topic, topic.claim_terms)  # sent once, when the worker starts
    with ProcessPoolExecutor(1, get_context("spawn"), initializer=start_worker, initargs=start) as pool:
        for name, ctype in FIXTURES:
            result = _result(name, ctype)
            here = prepare_batch(source, result, topic, tolerance)
            there = pool.submit(prepare_in_worker, source, result, tolerance).result()
            assert there == here, name
            assert here.intents, name


@pytest.mark.sqlite_only
def test_a_dead_worker_means_preparing_in_the_main_process(
    workspace: Workspace, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    workspace.sources({"id": "s", "url": "http://127.0.0.1/feed.xml", "kind": "feed"})
    config = load_config(workspace.config)
    repo = SqlRepository(open_database(f"sqlite:///{tmp_path / 'x.db'}"))
    source = config.sources[0]
    result = _result("rss2.xml", "application/rss+xml")

    async def prepare() -> pipeline.PreparedBatch:
        async with HttpxFetcher(config.settings.http) as fetcher:
            pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
            try:
                with pytest.raises(BrokenProcessPool):  # the worker's own death breaks the pool
                    pool.submit(os._exit, 1).result()
                cycle = dataclasses.replace(build_cycle(config, repo, fetcher), parser=pool)
                return await pipeline.prepare_result(source, result, cycle)
            finally:
                pool.shutdown()

    with caplog.at_level(logging.WARNING, logger="monitor.pipeline.cycle"):
        prepared = asyncio.run(prepare())
    assert "parser process died" in caplog.text
    assert [i.title for i in prepared.intents] == [
        i.title for i in prepare_batch(source, result, TopicMatcher(config.topic), timedelta(hours=1)).intents
    ]
    repo.engine.dispose()
