"""Near-duplicates and stories through the whole run, and the indexes rebuilt from storage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.cli import main
from monitor.clustering import load_indexes
from monitor.models import StoredItem
from monitor.neardup import signature
from tests.conftest import FeedServer, Workspace

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
COPY = WIRE.replace("on Tuesday told", "this week told").replace("about six percent", "nearly 6%") + " Reporting by staff."
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
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{prefix}</title>{items}</channel></rss>'


def items(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["items", "--json"]) == 0
    return {i["title"]: i for i in json.loads(capsys.readouterr().out)}


@pytest.fixture
def newsroom(feeds: FeedServer, workspace: Workspace) -> FeedServer:
    workspace.write("monitor.toml", '[poll]\narticle = "never"\n')
    day = "Tue, 15 Apr 2025"
    workspace.sources(
        {"id": "wire", "url": feeds.put("/wire.xml", feed("w", ("US curbs Nvidia H20 exports", WIRE, f"{day} 22:00:00 GMT"))), "kind": "feed"},
        {"id": "paper", "url": feeds.put("/paper.xml", feed("p", ("Nvidia hit by new China chip curbs", COPY, f"{day} 23:30:00 GMT"), ("TSMC revenue hits record", UNRELATED, f"{day} 23:00:00 GMT"))), "kind": "feed"},
        {"id": "other", "url": feeds.put("/other.xml", feed("o", ("Nvidia books $5.5bn H20 charge after US licence rule", OTHER_REPORT, "Wed, 16 Apr 2025 09:00:00 GMT"))), "kind": "feed"},
        {"id": "cn", "url": feeds.put("/cn.xml", feed("c", ("美国限制英伟达H20对华出口", ZH, f"{day} 23:00:00 GMT"))), "kind": "feed"},
        {"id": "tw", "url": feeds.put("/tw.xml", feed("t", ("美國限制輝達H20對華出口", ZH_REPRINT, "Wed, 16 Apr 2025 01:00:00 GMT"))), "kind": "feed"},
    )
    return feeds


def test_near_copies_point_at_the_original_and_stories_group_reports(
    newsroom: FeedServer, workspace: Workspace, capsys: pytest.CaptureFixture[str]
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

    capsys.readouterr()
    assert main(["stories", "--json", "--all"]) == 0
    stories = {s["id"]: s for s in json.loads(capsys.readouterr().out)}
    story = stories[wire["story_id"]]
    assert story["item_count"] == 3 and story["outlet_count"] == 3
    assert story["title"] == "US curbs Nvidia H20 exports"


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
    store = Store(now, [(1, sig.to_bytes(), now - timedelta(days=90), None), (2, sig.to_bytes(), now - timedelta(days=1), None)])
    indexes = load_indexes(store)
    assert len(indexes.neardup) == 1
    assert indexes.neardup.query(sig) == 2


@pytest.mark.parametrize(
    ("text", "reprint"),
    [
        ("国家互联网信息办公室7月31日通报，已约谈该公司。", False),
        ("据中国网信网消息，国家互联网信息办公室7月31日通报。", True),
        ("據央視新聞客戶端消息，國家互聯網信息辦公室通報。", True),
        ("正文。（文章来源：中国网信网；责任编辑：财经频道）", True),
        ("The Commerce Department said on Tuesday.", False),
        ("WASHINGTON (Reuters) - The Commerce Department said.", False),
        ("Body text.\nSource: Reuters", True),
    ],
)
def test_reprints_name_their_source(text: str, reprint: bool) -> None:
    from monitor.clustering import is_reprint

    assert is_reprint(text) is reprint


def test_at_the_same_moment_the_item_that_names_no_source_is_the_original() -> None:
    from monitor.clustering import Indexes, cluster

    when = datetime(2025, 7, 31, 8, tzinfo=UTC)

    def item(item_id: int, text: str) -> StoredItem:
        return StoredItem(item_id, "s", f"g{item_id}", None, None, "标题", text, "zh-Hans", when, when, None, None, None, True, None)

    reprint = item(1, "据中国网信网消息，" + ZH)
    original = item(2, ZH)
    updates = {u.item_id: u for u in cluster([reprint, original], Indexes())}
    assert updates[2].duplicate_of is None and updates[1].duplicate_of == 2
