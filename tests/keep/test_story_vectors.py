"""Item vectors in near-duplicates and stories: edited copies, other scripts, other languages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor.judge.judge import Judge
from monitor.judge.registry import Registry
from monitor.keep.clustering import Indexes, cluster
from monitor.keep.stories import StoryIndex, StoryRule
from monitor.keep.story_features import StoryFeatures, term_ids
from monitor.keep.story_vectors import LEAD_TEXTS, Background, fit_background, item_vector, lead_rows
from tests.judging import encoder, needs_encoder

T0 = datetime(2025, 8, 12, 9, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    id: int
    title: str
    summary: str
    text: str | None
    lang: str
    published_at: datetime
    duplicate_of: int | None = None
    story_id: int | None = None


SIMPLIFIED = (
    "新华社北京3月12日电 国家统计局12日发布数据显示，2月份全国居民消费价格同比上涨0.7%，"
    "其中城市上涨0.8%，农村上涨0.5%；"
    "食品价格上涨1.2%，非食品价格上涨0.6%。国家统计局城市司首席统计师表示，受春节因素影响，食品价格涨幅有所扩大，"
    "鲜菜和水果价格明显上涨。"
)
TRADITIONAL = (  # the same wire story as a Taiwan or Hong Kong site prints it, with its own headline
    "新華社北京3月12日電 國家統計局12日發佈數據顯示，2月份全國居民消費價格同比上漲0.7%，"
    "其中城市上漲0.8%，農村上漲0.5%；"
    "食品價格上漲1.2%，非食品價格上漲0.6%。國家統計局城市司首席統計師表示，受春節因素影響，食品價格漲幅有所擴大，"
    "鮮菜和水果價格明顯上漲。"
)


def test_a_traditional_script_copy_of_a_simplified_wire_story_is_a_near_duplicate() -> None:
    items = [
        Item(1, "2月份CPI同比上涨0.7%", "", SIMPLIFIED, "zh-Hans", T0),
        Item(2, "陸2月CPI年增0.7% 鮮菜水果漲幅擴大", "", TRADITIONAL, "zh-Hant", T0 + timedelta(hours=3)),
    ]
    updates = {u.item_id: u for u in cluster(items, Indexes())}
    assert updates[2].duplicate_of == 1
    assert updates[2].story_id == 1


def test_an_items_vector_is_its_headline_and_lead_rows_normalised_again() -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(7, 8)).astype(np.float16)  # as stored: float16, not quite unit length
    lead = lead_rows(rows.astype(np.float32))
    assert lead.shape == (LEAD_TEXTS, 8)
    assert np.allclose(np.linalg.norm(lead, axis=1), 1.0, atol=1e-6)
    later = rows.astype(np.float32).copy()
    later[LEAD_TEXTS:] = -later[LEAD_TEXTS:]  # sentences after the lead do not move the vector
    assert np.allclose(item_vector(later), item_vector(rows.astype(np.float32)))
    assert float(np.linalg.norm(item_vector(rows.astype(np.float32)))) == pytest.approx(1.0, abs=1e-6)


def _judge_vectors(items: list[Item]) -> dict[int, np.ndarray]:
    """The items' sentence vectors as the judge embeds and a poll cycle stores them."""
    judge = Judge(Registry(), encoder(), None)
    found = {}
    for item in items:
        vectors = judge.embed(judge.read(item.title, item.text or "", item.published_at))
        assert vectors is not None
        found[item.id] = vectors
    return found


def _features(family: str, vector: list[float], entities: set[str], numbers: set[str] = frozenset()) -> StoryFeatures:
    """Features with one text, whose vector is the item's."""
    unit = np.array(vector, dtype=np.float32)
    unit /= np.linalg.norm(unit)
    return StoryFeatures(family, frozenset(entities), frozenset(numbers), term_ids("", "en"), unit, unit[None, :])


BACKGROUND = Background((("en-en", 0.5, 0.1, None), ("en-zh", 0.4, 0.1, None), ("zh-zh", 0.5, 0.1, None)))
RULE = StoryRule(
    background=BACKGROUND, vector_z=2.0, vector_gap=timedelta(days=2), vector_entities=1, cross_entities=99
)


@pytest.mark.parametrize(
    ("cos", "family", "shared", "gap_days", "joins"),
    [
        (0.75, "zh", {"nvidia"}, 0, True),  # across languages: z = 3.5
        (0.65, "zh", {"nvidia"}, 0, True),  # z = 2.5: the lower background of the pair
        (0.65, "en", {"nvidia"}, 0, False),  # the same cosine in one language: z = 1.5
        (0.75, "zh", set(), 0, False),  # nothing specific in common
        (0.75, "zh", {"nvidia"}, 30, False),  # one topic, a month apart
    ],
)
def test_vectors_link_stories_by_one_rule_for_every_pair_of_languages(
    cos: float, family: str, shared: set[str], gap_days: int, joins: bool
) -> None:
    a = _features("en", [1.0, 0.0], {"nvidia", "china"} if shared else {"tsmc"})
    b = _features(family, [cos, (1 - cos**2) ** 0.5], shared or {"intel"})
    sim = None if family != "en" else 0.0
    assert (RULE.decide(a, b, timedelta(days=gap_days), sim) is not None) is joins


def test_an_edited_copy_is_found_by_its_words_and_a_sentence_kept() -> None:
    rule = StoryRule(copy_terms=0.5, copy_cos=0.95, copy_gap=timedelta(days=1))
    a = _features("en", [1.0, 0.0], {"nvidia"})
    b = _features("en", [0.99, 0.141], {"nvidia"})
    assert rule.is_copy(a, b, timedelta(hours=5), 0.6)
    assert not rule.is_copy(a, b, timedelta(hours=5), 0.4)  # one event, separate words
    assert not rule.is_copy(a, b, timedelta(days=3), 0.6)
    assert not rule.is_copy(a, b, timedelta(hours=5), None)  # across languages: a translation, not a copy


def test_the_background_is_fitted_per_pair_of_languages() -> None:
    rng = np.random.default_rng(1)
    vectors = [item_vector(rng.normal(size=(2, 8)).astype(np.float32)) for _ in range(12)]
    background = fit_background(["en"] * 6 + ["zh-Hant"] * 6, vectors)
    assert [key for key, *_ in background.pairs] == ["en-en", "en-zh", "zh-zh"]
    assert all(sd > 0 for _, _, sd, _ in background.pairs)


EN_REPORT = (
    "Nvidia halts H20 production after Beijing warns firms against buying",
    "Nvidia has told suppliers including Amkor and Samsung to suspend work on its H20 artificial intelligence chip, "
    "after Chinese regulators urged local technology companies not to buy it over security concerns. The move "
    "comes weeks after Washington allowed the sales to resume.",
)
ZH_REPORT = (
    "英伟达要求供应商暂停H20芯片生产",
    "据报道，英伟达已通知安靠和三星等供应商暂停H20人工智能芯片的相关工作。此前中国监管部门以安全问题为由，"
    "敦促国内科技企业不要购买该芯片。几周前美国刚刚允许恢复对华销售。",
)
EN_MONTH_LATER = (
    "Nvidia says China sales of H20 chips remain at zero",
    "Nvidia reported no H20 sales to China in its quarter, saying geopolitical issues kept the chip out of the "
    "market. Chief financial officer Colette Kress said the company had not shipped any H20 to Chinese customers "
    "and that its outlook assumes none.",
)


@needs_encoder
def test_an_english_and_a_chinese_report_of_one_event_form_one_story() -> None:
    items = [
        Item(1, *EN_REPORT[:1], "", EN_REPORT[1], "en", T0),
        Item(2, *ZH_REPORT[:1], "", ZH_REPORT[1], "zh-Hans", T0 + timedelta(hours=6)),
    ]
    vectors = _judge_vectors(items)
    updates = {u.item_id: u for u in cluster(items, Indexes(), vectors)}
    assert updates[2].story_id == 1
    assert updates[2].duplicate_of is None  # a translation is another report, not a copy


@needs_encoder
def test_two_events_on_one_topic_a_month_apart_are_two_stories() -> None:
    items = [
        Item(1, *EN_REPORT[:1], "", EN_REPORT[1], "en", T0),
        Item(2, *EN_MONTH_LATER[:1], "", EN_MONTH_LATER[1], "en", T0 + timedelta(days=30)),
    ]
    vectors = _judge_vectors(items)
    updates = {u.item_id: u for u in cluster(items, Indexes(), vectors)}
    assert updates[2].story_id == 2


def test_an_anchored_score_measures_the_way_to_one_events_reports() -> None:
    background = Background((("en-en", 0.9, 0.03, 0.97), ("en-zh", 0.86, 0.02, 0.90), ("zh-zh", 0.92, 0.02, None)))
    assert background.z(0.97, "en-en", anchored=True) == pytest.approx(1.0)
    assert background.z(0.90, "en-zh", anchored=True) == pytest.approx(1.0)  # lower across languages, as far along
    assert background.z(0.96, "zh-zh", anchored=True) == pytest.approx(2.0)  # no anchor fitted: standard deviations


def test_an_edited_copy_of_a_busy_storys_middle_report_is_found() -> None:
    """A story is decided by its first and latest reports; a copy is looked for among all its
    recent reports with vectors, so the copy of the third of six is still a copy."""
    rule = StoryRule(copy_terms=0.0, copy_cos=0.99, copy_gap=timedelta(days=1), vector_z=None, text_sim=0.0)
    index = StoryIndex(rule)
    basis = np.eye(8, dtype=np.float32)
    for n in range(6):  # six reports of one event, each its own sentence vector
        features = _features("en", list(basis[n]), {"nvidia", "h20"})
        index.place(n + 1, features, T0 + timedelta(hours=n))
    copy = _features("en", list(basis[2] + 0.01 * basis[7]), {"nvidia", "h20"})
    story, copy_of = index.place(7, copy, T0 + timedelta(hours=7))
    assert story == 1 and copy_of == 3
