"""The claim matcher: anchors, signals, numbers and dates, ranking, both scripts (pure)."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.claims.matcher import ClaimMatcher
from monitor.claims.registry import Registry
from monitor.config import load_registry

REGISTRY = """
[[entity]]
id = "h20"
aliases = ["H20"]

[[entity]]
id = "beijing"
aliases = ["Beijing", "北京", "网信办", "網信辦"]

[[claim]]
id = "P1"
statement_en = "The H20 costs about $25,000 and its sales to China resumed in July 2025."
anchors = ["@h20"]

[[claim.quantity]]
measure = "H20 price"
value = 25000
unit = "USD"
tolerance = 0.2
near = ["price", "priced", "售价", "單價"]

[[claim.signal]]
relation = "supports"
when = [["@h20"], ["resume", "resumed", "恢复", "恢復"]]

[[claim.signal]]
relation = "updates"
weight = 1.3
when = [["@h20"], ["@beijing"], ["backdoor", "后门", "後門", "summoned", "约谈", "約談"]]

[[claim]]
id = "P2"
statement_en = "The chip threshold was lowered in October 2024."
anchors = ["threshold", "门槛", "門檻"]

[[claim.date]]
about = "the threshold rule"
value = "2024-10"
near = ["rule", "rules", "规则", "規則"]

[[claim]]
id = "P3"
statement_en = "Smuggled chips sell at a 50-80% premium."
anchors = ["smuggled", "grey market", "走私", "灰色市场"]

[[claim.quantity]]
measure = "premium"
value = 50
high = 80
unit = "%"
near = ["premium", "溢价", "溢價"]
tolerance = 0.1

[[claim.signal]]
relation = "supports"
unless = ["denied", "否认"]
when = [["smuggled", "走私"], ["chips", "芯片", "晶片"]]
"""


@pytest.fixture(scope="module")
def matcher() -> ClaimMatcher:
    return ClaimMatcher(Registry.model_validate(tomllib.loads(REGISTRY)))


def relations(matcher: ClaimMatcher, title: str, text: str = "", when: datetime | None = None) -> dict[str, str]:
    return {d.claim_id: d.relation for d in matcher.match(title, text, when)}


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("Nvidia to resume H20 sales to China", "", {"P1": "supports"}),
        ("英伟达将恢复向中国销售H20", "", {"P1": "supports"}),
        ("輝達將恢復對華銷售H20", "", {"P1": "supports"}),
        ("網信辦約談輝達 要求說明H20後門風險", "", {"P1": "updates"}),
        ("H20 priced at US$10,000-12,000, sources say", "", {"P1": "contradicts"}),
        ("Buyers say the H20 price is about $24,000", "", {"P1": "supports"}),
        ("H20單價約1萬至1.2萬美元", "", {"P1": "contradicts"}),
        ("Nvidia resumes everything", "No chip is named here, so nothing is anchored.", {}),
        ("Chip stocks rally", "The H20 is mentioned. Sales resumed elsewhere, in another sentence.", {}),
        ("Smuggled chips sell at a 50% premium", "", {"P3": "supports"}),
        ("走私芯片溢价约六成", "", {"P3": "supports"}),
        ("Smuggled chips sell at a 200% premium", "", {"P3": "contradicts"}),
        ("Officials denied that smuggled chips reached buyers", "", {}),
    ],
)
def test_relations(matcher: ClaimMatcher, title: str, text: str, expected: dict[str, str]) -> None:
    assert relations(matcher, title, text) == expected


def test_an_earlier_date_contradicts_a_later_one_does_not(matcher: ClaimMatcher) -> None:
    earlier = "The threshold rule was issued in October 2023, not a year later."
    assert relations(matcher, "Chip threshold", earlier) == {"P2": "contradicts"}
    assert relations(matcher, "Chip threshold", "The threshold rule of October 2024 stands.") == {"P2": "supports"}
    later = "The threshold rule will be replaced in May 2025."
    assert relations(matcher, "Chip threshold", later) == {}
    no_year = "美国10月17日公布门槛新规则。"
    assert relations(matcher, "门槛", no_year, datetime(2023, 10, 18, tzinfo=UTC)) == {"P2": "contradicts"}


def test_evidence_is_the_sentence_and_the_reason_is_given(matcher: ClaimMatcher) -> None:
    [decision] = matcher.match("Chip news", "Markets were calm. Nvidia said it will resume H20 sales. Shares rose.")
    assert decision.evidence == "Nvidia said it will resume H20 sales."
    assert "supports" in decision.why and decision.score >= 1.0


def test_background_late_in_an_article_weighs_less(matcher: ClaimMatcher) -> None:
    filler = " ".join(f"Sentence {n} says nothing of note." for n in range(12))
    early = matcher.match("Chip news", "Nvidia will resume H20 sales. " + filler)
    late = matcher.match("Chip news", filler + " Nvidia will resume H20 sales.")
    assert early and not late


SHIPPED = Path(__file__).parents[1] / "config" / "claims.toml"


@pytest.fixture(scope="module")
def shipped() -> ClaimMatcher:
    return ClaimMatcher(load_registry(SHIPPED))


@pytest.mark.parametrize(
    ("title", "text", "claim", "relation"),
    [
        ("US lets Nvidia resume H20 chip sales to China", "The Commerce Department granted export licences.", "C23", "supports"),
        ("中国网信办约谈英伟达 要求说明H20芯片后门安全风险", "", "C23", "updates"),
        ("TSMC halts 7nm AI chip production for Chinese customers", "", "C12", "supports"),
        ("台積電暫停為大陸客戶代工7奈米AI晶片", "", "C12", "supports"),
        ("SMIC ramps its N+3 process for Huawei", "", "C13", "contradicts"),
        ("US adds HBM memory chips to export controls on China", "", "C07", "supports"),
        ("Nvidia H20 sells for about US$12,000, a fraction of earlier estimates", "The H20 price was said to be $12,000.", "C04", "contradicts"),
    ],
)
def test_shipped_registry_on_sentences_we_wrote(
    shipped: ClaimMatcher, title: str, text: str, claim: str, relation: str
) -> None:
    found = relations(shipped, title, text)
    assert found.get(claim) == relation, found


@pytest.mark.parametrize(
    "title",
    [
        "Local football club wins the cup",
        "Apple unveils a new phone with a faster chip",
        "Bank of China reports quarterly profit",
        "台积电公布第三季度财报 营收增长",
    ],
)
def test_shipped_registry_leaves_unrelated_news_alone(shipped: ClaimMatcher, title: str) -> None:
    assert relations(shipped, title, "Nothing here bears on export controls.") == {}
