"""A source's follow-up work (its linked articles, then clustering and judging) under `monitor
serve`: a budget per source and cycle keeps a slow site from holding up the others' polls, what
it leaves is fetched first on the next cycles, and work a stop cut short is done within a tick
of the restart. `monitor serve` runs as a subprocess against a loopback HTTP server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from tests.conftest import Workspace
from tests.servicekit import Route, Serve, Site, assert_consistent, count, query, words

SETTINGS = """
[poll]
interval = 1
jitter = 0
article = "never"
source_articles = {source_articles}
source_article_seconds = {source_seconds}
cycle_articles = 200
cycle_article_seconds = {cycle_seconds}

[http]
per_host = 2

[schedule]
poll_tick = {tick}
misfire_grace_time = 30

[service]
stop_timeout = {stop_timeout}
lock_ttl = 30
"""

ARTICLE = """<!doctype html><html lang="en"><head><title>{title}</title></head><body>
<article><h1>{title}</h1>
<p>{body}.</p>
</article></body></html>"""


def configure(
    workspace: Workspace,
    *,
    tick: float = 0.2,
    source_articles: int = 100,
    source_seconds: float = 60,
    cycle_seconds: float = 60,
    stop_timeout: float = 5,
) -> None:
    workspace.write(
        "monitor.toml",
        SETTINGS.format(
            tick=tick,
            source_articles=source_articles,
            source_seconds=source_seconds,
            cycle_seconds=cycle_seconds,
            stop_timeout=stop_timeout,
        ),
    )


def feed_with_articles(site: Site, name: str, items: int, *, delay: float) -> str:
    """A feed of `items` entries whose links are article pages on the site, each served after
    `delay` seconds."""
    entries = []
    for n in range(items):
        path = f"/a/{name}-{n}.html"
        title = f"{name} {n}: US export controls on AI chips, {words(f'{name}{n}', 2)}"
        site.routes[path] = Route(
            body=ARTICLE.format(
                title=title, body=f"Export controls on Nvidia chips: {words(f'{name}{n} article', 60)}"
            ).encode(),
            delay=delay,
            content_type="text/html",
        )
        entries.append(
            f"<item><title>{title}</title><link>{site.url(path)}</link><guid>{name}-{n}</guid>"
            f"<description>{words(f'{name}{n} summary', 4)}.</description>"
            f"<pubDate>Tue, 15 Jul 2025 08:{n % 60:02d}:00 GMT</pubDate></item>"
        )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{"".join(entries)}</channel></rss>'
    site.routes[f"/{name}.xml"] = Route(body=body.encode())
    return site.url(f"/{name}.xml")


def article_order(site: Site, name: str) -> list[int]:
    """The article numbers of `name` in the order their first request arrived."""
    first = {path: times[0] for path, times in site.hits.items() if path.startswith(f"/a/{name}-")}
    return [int(re.findall(r"-(\d+)\.html", path)[0]) for path in sorted(first, key=first.__getitem__)]


@pytest.mark.slow
def test_a_slow_article_source_does_not_hold_up_a_fast_one(
    site: Site, workspace: Workspace, serve: Callable[..., Serve]
) -> None:
    """20 articles at 2 s each, 2 at a time: 20 s of downloads. Unbudgeted, the first cycle
    took all of them and the fast source (every second) waited 20 s; with a second's share a
    cycle ends after the downloads under way, and the rest follow over the next cycles, oldest
    first, while the fast source keeps its schedule."""
    configure(workspace, source_seconds=1, cycle_seconds=1.5)
    workspace.sources(
        {
            "id": "slow",
            "url": feed_with_articles(site, "slow", 20, delay=2.0),
            "kind": "feed",
            "interval": 600,
            "article": "all",
        },
        {"id": "fast", "url": site.feed("/fast.xml", 2), "kind": "feed", "interval": 1},
    )
    fetched = "SELECT count(*) FROM item WHERE source_id = 'slow' AND article_status IS NOT NULL"
    service = serve()
    service.wait_for("every article of the slow source", lambda: count(workspace, fetched) == 20, timeout=90)
    assert service.stop() == 0

    fast = site.gaps("/fast.xml")
    assert len(fast) >= 8, fast
    # a cycle: the share (1 s) and the downloads under way (2 s); the first one also starts the
    # encoder (about a second here) and embeds the cycle's new relevant items for stories and judge
    assert max(fast[1:]) < 4.5, fast
    assert fast[0] < 6.0, fast
    assert sorted(fast)[len(fast) // 2] < 3.0, fast
    assert len(site.hits["/slow.xml"]) == 1  # not polled again: its leftovers were caught up on
    # oldest first: the per-host workers (2) start them in order, so two begun together may
    # arrive either way round, never further apart
    order = article_order(site, "slow")
    assert sorted(order) == list(range(20)) and all(abs(n - i) <= 1 for i, n in enumerate(order)), order
    assert all(len(site.hits[f"/a/slow-{n}.html"]) == 1 for n in range(20))  # none fetched twice
    assert count(workspace, "SELECT count(*) FROM item WHERE article_status = 'ok'") == 20
    assert "articles_left=" in service.output()
    assert_consistent(workspace)


@pytest.mark.slow
def test_work_cut_by_a_stop_is_done_within_a_tick_of_the_restart(
    site: Site, workspace: Workspace, serve: Callable[..., Serve]
) -> None:
    """SIGTERM while a source's articles are being fetched: its items are stored, most without
    article or judgement. The source was not given its next poll (an hour away), so the
    restarted service finds the cut work and finishes it within one poll tick."""
    workspace.ship_claims()
    configure(workspace, tick=20, stop_timeout=0.5)
    url = feed_with_articles(site, "wire", 12, delay=1.0)
    workspace.sources({"id": "wire", "url": url, "kind": "feed", "interval": 3600, "article": "all"})
    first = serve("first")
    first.wait_for("articles under way", lambda: len([p for p in site.hits if p.startswith("/a/")]) >= 2)
    assert first.stop() == 0
    unfinished = "SELECT count(*) FROM item WHERE article_status IS NULL OR clustered_at IS NULL"
    assert count(workspace, "SELECT count(*) FROM item") == 12
    cut = count(workspace, unfinished)
    assert cut >= 8  # the stop left most of the work undone
    assert query(workspace, "SELECT next_poll_at FROM source") == [(None,)]  # still due

    for n in range(12):
        site.routes[f"/a/wire-{n}.html"].delay = 0
    second = serve("second")
    second.wait_for("the service's start", lambda: "event=start" in second.output())
    began = time.monotonic()
    unjudged = "SELECT count(*) FROM item WHERE relevant AND duplicate_of IS NULL AND matched_at IS NULL"
    second.wait_for("the cut work", lambda: count(workspace, unfinished) == 0 and count(workspace, unjudged) == 0)
    assert time.monotonic() - began < 20  # within the first tick (20 s): not an hour later
    second.wait_for("the source scheduled", lambda: query(workspace, "SELECT next_poll_at FROM source") != [(None,)])
    assert second.stop() == 0
    assert count(workspace, "SELECT count(*) FROM item") == 12  # nothing stored twice
    assert count(workspace, "SELECT count(*) FROM item WHERE relevant AND matched_at IS NOT NULL") > 0
    assert_consistent(workspace)
