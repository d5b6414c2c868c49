"""A monitor with something to review, served on loopback: the shipped claims, a poll of a
loopback feed (English, simplified and traditional Chinese) into a real SQLite file, two
flags on C01 stored by the judge's own storage call (one supports, one contradicts: the claim
starts contested), and one hostile item (markup, a `javascript:` link, `onerror=`) written
into the database as a feed could never get it past the normaliser, to prove the pages escape
whatever they are given."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, update

from monitor.cli import main
from monitor.config import Config, load_config
from monitor.pipeline.metrics import Metrics
from monitor.records import Decision
from monitor.storage import SqlRepository, open_database
from monitor.storage.tables import ItemRow
from monitor.web import server
from tests.conftest import FeedServer, Workspace

EXPORT = (
    "US Commerce Department lowers AI chip export threshold",
    "The Commerce Department updated its export control list, lowering the compute threshold for AI chips "
    "exported to China from 4800 TOPS to 2400 TOPS.",
    "Tue, 15 Jul 2025 00:00:00 GMT",
)
DENIAL = (
    "Officials say the AI chip threshold for China was never changed",
    "Officials said the 4800 TOPS threshold for AI chip exports to China still applies and was not lowered.",
    "Wed, 16 Jul 2025 00:00:00 GMT",
)
SIMPLIFIED = (
    "美国商务部更新出口管制清单 英伟达芯片受限",
    "美国商务部更新了出口管制清单,英伟达对华出口的AI芯片受到限制。",
    "Thu, 17 Jul 2025 00:00:00 GMT",
)
TRADITIONAL = (
    "台積電暫停向中國大陸客戶供應先進晶片",
    "台積電表示將遵守美國出口管制規定,暫停向部分中國大陸客戶供應七納米以下晶片。",
    "Fri, 18 Jul 2025 00:00:00 GMT",
)
PLAIN = (
    "Nvidia H20 sales to China resume after licence",
    "Nvidia said the Commerce Department granted licences for H20 chip sales to China.",
    "Sat, 19 Jul 2025 00:00:00 GMT",
)
HOSTILE_TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">H20 smuggling'
HOSTILE_SUMMARY = '<a href="javascript:window.__pwned=3">click</a> <b onmouseover="window.__pwned=4">bold</b>'
HOSTILE_URL = "javascript:window.__pwned=5"


def feed(*entries: tuple[str, str, str], prefix: str = "a") -> str:
    items = "".join(
        f"<item><title>{t}</title><link>http://HOST/{prefix}/{n}</link><guid>{prefix}-{n}</guid>"
        f"<description>{d}</description><pubDate>{when}</pubDate></item>"
        for n, (t, d, when) in enumerate(entries)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'


@dataclass
class Site:
    workspace: Workspace
    config: Config
    engine: Engine
    supports: int  # the flag ids seeded on C01
    contradicts: int
    hostile: int  # the hostile item's id
    base: str = ""
    metrics: Metrics | None = None

    @property
    def repo(self) -> SqlRepository:
        return SqlRepository(self.engine)


def build_site(feeds: FeedServer, workspace: Workspace) -> Site:
    workspace.ship_claims()
    workspace.write("monitor.toml", '[poll]\narticle = "never"\n')
    url = feeds.put("/wire.xml", feed(EXPORT, DENIAL, SIMPLIFIED, TRADITIONAL, PLAIN))
    workspace.sources({"id": "wire", "name": "Wire", "url": url, "kind": "feed"})
    assert main(["run", "--once"]) == 0
    config = load_config(workspace.config)
    engine = open_database(config.database_url)
    repo = SqlRepository(engine)
    items = {i.title: i for i in repo.list_items()}
    export, denial, plain = items[EXPORT[0]], items[DENIAL[0]], items[PLAIN[0]]
    now = datetime.now(UTC)
    with engine.begin() as connection:  # what no feed could store: the pages must escape it anyway
        connection.execute(
            update(ItemRow)
            .where(ItemRow.id == plain.id)
            .values(title=HOSTILE_TITLE, summary=HOSTILE_SUMMARY, url=HOSTILE_URL, canonical_url=HOSTILE_URL)
        )
    # The flags, by the judge's own storage call: these and no others (the judge's of the poll,
    # which depend on its model, are replaced), so every standing is known.
    seeded = {
        export.id: [Decision("C01", "supports", 0.995, EXPORT[1], "test: seeded")],
        denial.id: [Decision("C01", "contradicts", 0.994, DENIAL[1], "test: seeded")],
        plain.id: [Decision("C02", "updates", 0.5, HOSTILE_TITLE, "test: hostile")],
    }
    repo.save_matches([(i.id, seeded.get(i.id, [])) for i in items.values()], now)
    c01 = {f.relation: f.id for f in repo.list_flags(claim_id="C01")}
    return Site(workspace, config, engine, c01["supports"], c01["contradicts"], plain.id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(site: Site, env: dict[str, str] | None = None) -> Iterator[Site]:
    """The web side over the site's database on a free loopback port, for the block."""
    site.metrics = site.metrics or Metrics()
    port = free_port()
    web = server.prepare(site.config, site.engine, site.metrics, env or {}, f"127.0.0.1:{port}")
    with server.running_in_thread(web):
        site.base = f"http://127.0.0.1:{port}"
        yield site


def chromium_paths() -> tuple[str, str] | None:
    """Debian's Chromium and its driver, when installed."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None
