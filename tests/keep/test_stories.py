"""Story grouping (pure): names, numbers, terms, the rule and the windowed index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor.keep.stories import StoryIndex, StoryRule
from monitor.keep.story_features import (
    StoryFeatures,
    cosine,
    extract_entities,
    extract_features,
    extract_numbers,
    overlaps,
    term_ids,
)

T0 = datetime(2025, 8, 12, 9, tzinfo=UTC)

# One event (US licences for Nvidia's H20), reported in different words.
EN_A = (
    "US grants Nvidia licences to ship H20 chips to China",
    "Nvidia said on Tuesday that the US Commerce Department had granted it licences to ship H20 chips to China, "
    "reversing an April ban that cost the company $4.5 billion in charges. Chief executive Jensen Huang met "
    "President Donald Trump at the White House last week. The H20 was designed for the Chinese market to comply "
    "with export controls. Analysts at Bernstein said the licences could restore as much as $15 billion in annual "
    "revenue, with Tencent and ByteDance expected to place new orders.",
)
EN_B = (
    "Washington clears Nvidia to resume H20 sales in China",
    "The US government has cleared Nvidia to resume sales of its H20 artificial intelligence chip to Chinese "
    "customers, the chipmaker announced. The approval ends a ban imposed in April that forced Nvidia to book "
    "$4.5 billion in charges. Jensen Huang, its chief executive, lobbied Donald Trump in person. Bernstein analysts "
    "estimate the decision could bring back up to $15 billion a year in sales, with Tencent and ByteDance among "
    "the likely buyers.",
)
# Another event of the same days that shares names (Nvidia, China) but not the story.
EN_OTHER = (
    "Huawei unveils Ascend 950 and a three-year chip roadmap",
    "Huawei unveiled its Ascend 950 processor at a developer conference in Shanghai, promising to ship the chip in "
    "the first quarter of 2026. The company said clusters of 8,192 of the processors would be linked in its Atlas "
    "950 supernode. Rotating chairman Eric Xu said the firm would publish its roadmap every year and develop its own "
    "high-bandwidth memory, as Chinese regulators discourage purchases of Nvidia products.",
)
ZH_A = (
    "网信办就H20漏洞后门风险约谈英伟达",
    "国家网信办7月31日约谈英伟达公司，要求其就H20算力芯片存在的漏洞后门安全风险作出说明，并提交相关证明材料。"
    "网信办表示，依据网络安全法、数据安全法和个人信息保护法，维护中国用户的网络安全和数据安全。"
    "此前有美国议员提出，出口的先进芯片必须配备追踪定位功能。",
)
ZH_B = (  # the same event in traditional script and other words (Taiwan usage: 輝達, 晶片)
    "H20晶片疑有後門 中國網信辦約談輝達",
    "針對H20晶片的漏洞後門隱患，中國國家網信辦於7月31日約談輝達，責成該公司說明情況並提交證明材料。"
    "監管部門指出，美國國會有議員曾主張出口的先進晶片要具備追蹤定位功能，當局須依法保障中國用戶的網絡安全和數據安全。",
)
ZH_OTHER = (
    "中国暂停镓锗锑对美出口禁令",
    "中国商务部11月9日宣布，暂停执行2024年第46号公告中关于镓、锗、锑等两用物项对美出口的禁令，期限至2026年11月27日。"
    "石墨两用物项的最终用户审查也同步放宽。分析人士认为，此举是中美经贸磋商之后释放的缓和信号。",
)
EN_ZH_A = (  # the English report of ZH_A's event
    "China summons Nvidia over H20 backdoor risks",
    "The Cyberspace Administration of China summoned Nvidia on July 31 to explain backdoor security risks in its "
    "H20 chips and to submit supporting documents. The regulator cited the Cybersecurity Law and said US lawmakers "
    "had called for exported chips to carry tracking and location functions; Nvidia must answer by August 5.",
)
ZH_EN_A = (
    "网信办约谈英伟达",
    "国家网信办7月31日约谈英伟达，要求就H20芯片后门风险作出说明并提交证明材料，网信办要求英伟达在8月5日前答复，"
    "并指出美国议员主张出口芯片具备追踪定位功能。",
)


def features(item: tuple[str, str], lang: str) -> StoryFeatures:
    return extract_features(item[0], item[1], lang)


def test_english_names_are_capitalised_words_acronyms_and_model_numbers() -> None:
    found = extract_entities("The CAC summoned Nvidia's chief over H20, 910C and B30A chips on Monday.", "en")
    assert {"cac", "nvidia", "h20", "910c", "b30a"} <= found
    assert not found & {"the", "monday", "chips", "summoned"}


def test_lower_case_words_are_not_english_names() -> None:
    assert "us" not in extract_entities("Tell us about the arm of the company.", "en")
    assert "us" in extract_entities("The U.S. and the United States", "en")


@pytest.mark.parametrize(
    ("text", "lang"),
    [("Nvidia and Huawei", "en"), ("英伟达与华为", "zh-Hans"), ("英偉達與華為", "zh-Hant"), ("輝達、華為", "zh-Hant")],
)
def test_known_names_are_one_key_across_languages_and_scripts(text: str, lang: str) -> None:
    assert {"nvidia", "huawei"} <= extract_entities(text, lang)


def test_latin_tokens_inside_chinese_are_names() -> None:
    found = extract_entities("网信办称H20芯片，戴尔（DELL）及Supermicro", "zh-Hans")
    assert {"h20", "supermicro", "dell", "cac"} <= found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a $17.1 billion quarter", {"1.71e+10"}),
        ("季度收入171亿美元", {"1.71e+10"}),
        ("on July 31, 2025 and 31 July", {"d7-31"}),
        ("7月31日", {"d7-31"}),
        ("2026年11月27日", {"d11-27"}),
        ("up 25% or 25 per cent", {"25%"}),
        ("a 7-nanometre or 7nm process, 7納米", {"7nm"}),
        ("the H20, the 910C and 2 firms in 2025", set()),
        ("1,999 dollars for 2,000 units", {"1999", "2000"}),
    ],
)
def test_numbers_take_one_normal_form(text: str, expected: set[str]) -> None:
    assert extract_numbers(text) == expected


def test_chinese_terms_fold_scripts_and_regional_words() -> None:
    assert cosine(term_ids("輝達晶片伺服器", "zh-Hant"), term_ids("英伟达芯片服务器", "zh-Hans")) == 1.0


def test_english_terms_ignore_stop_words_and_plurals() -> None:
    assert cosine(term_ids("The chips of the firm", "en"), term_ids("a firm's chip", "en")) == 1.0


def test_overlaps_count_the_shared_terms_of_each() -> None:
    query = np.array([1, 3, 5, 7], dtype=np.int64)
    others = [np.array(a, dtype=np.int64) for a in ([1, 2, 3], [], [7, 9], [0, 8], [1, 3, 5, 7])]
    assert overlaps(query, others) == [2, 0, 1, 0, 4]
    assert overlaps(np.array([], dtype=np.int64), others) == [0] * 5 and overlaps(query, []) == []


RULE = StoryRule()


def feats(entities: set[str], numbers: set[str], family: str = "en") -> StoryFeatures:
    """Features with these names and numbers; terms are given to `decide` as a cosine."""
    return StoryFeatures(family, frozenset(entities), frozenset(numbers), term_ids("", "en"))


@pytest.mark.parametrize(
    ("sim", "shared_names", "shared_numbers", "gap_days", "joins"),
    [
        (0.35, 0, 0, 1, True),  # terms alike
        (0.20, 2, 1, 1, True),  # somewhat alike, names and a number agree
        (0.20, 2, 0, 1, False),  # no number in common
        (0.20, 1, 1, 1, False),  # one name only
        (0.10, 5, 5, 1, False),  # terms too far apart, whatever the names
        (0.35, 0, 0, 8, False),  # outside the window
        (0.35, 0, 0, 6, True),  # terms alike, within the window
        # somewhat alike with names and a number in common, but days apart: one topic (Nvidia,
        # H20, a year), two events; reports of one event are written within a day or two
        (0.20, 2, 1, 3, False),
        (0.20, 2, 1, 6, False),
    ],
)
def test_rule_within_a_language(sim: float, shared_names: int, shared_numbers: int, gap_days: int, joins: bool) -> None:
    a = feats({f"e{i}" for i in range(shared_names)} | {"a"}, {f"n{i}" for i in range(shared_numbers)} | {"1"})
    b = feats({f"e{i}" for i in range(shared_names)} | {"b"}, {f"n{i}" for i in range(shared_numbers)} | {"2"})
    assert (RULE.decide(a, b, timedelta(days=gap_days), sim) is not None) is joins


@pytest.mark.parametrize(
    ("shared_names", "shared_numbers", "gap_days", "joins"),
    [(3, 2, 1, True), (2, 2, 1, False), (3, 1, 1, False), (3, 2, 3, False)],
)
def test_rule_across_languages(shared_names: int, shared_numbers: int, gap_days: int, joins: bool) -> None:
    a = feats({f"e{i}" for i in range(shared_names)}, {f"n{i}" for i in range(shared_numbers)}, "en")
    b = feats({f"e{i}" for i in range(shared_names)}, {f"n{i}" for i in range(shared_numbers)}, "zh")
    assert (RULE.decide(a, b, timedelta(days=gap_days), None) is not None) is joins
    assert StoryRule(cross_language=False).decide(a, b, timedelta(hours=1), None) is None


@pytest.mark.parametrize(
    ("first", "second", "lang1", "lang2"),
    [(EN_A, EN_B, "en", "en"), (ZH_A, ZH_B, "zh-Hans", "zh-Hant")],
    ids=["English paraphrase", "Chinese paraphrase across scripts"],
)
def test_paraphrases_sharing_names_and_numbers_join_one_story(
    first: tuple[str, str], second: tuple[str, str], lang1: str, lang2: str
) -> None:
    index = StoryIndex()
    assert index.assign(1, *first, lang1, T0) is None
    assert index.assign(2, *EN_OTHER, "en", T0) is None
    assert index.assign(3, *ZH_OTHER, "zh-Hans", T0) is None
    assert index.assign(4, *second, lang2, T0 + timedelta(hours=20)) == 1


def test_unrelated_items_of_the_same_days_stay_apart() -> None:
    index = StoryIndex()
    assert index.assign(1, *EN_A, "en", T0) is None
    assert index.assign(2, *EN_OTHER, "en", T0 + timedelta(hours=1)) is None
    assert index.assign(3, *ZH_A, "zh-Hans", T0 + timedelta(hours=2)) is None
    assert index.assign(4, *ZH_OTHER, "zh-Hans", T0 + timedelta(hours=3)) is None
    assert len(index) == 4


def test_near_copy_joins_the_story_of_its_original() -> None:
    index = StoryIndex()
    assert index.assign(1, *EN_A, "en", T0) is None
    assert index.assign(2, *EN_OTHER, "en", T0) is None
    assert index.assign(3, "Briefly", "(no text)", "en", T0 + timedelta(hours=1), duplicate_of=2) == 2


def test_reports_further_apart_than_the_window_start_new_stories() -> None:
    index = StoryIndex(StoryRule(window=timedelta(days=7)))
    assert index.assign(1, *EN_A, "en", T0) is None
    assert index.assign(2, *EN_B, "en", T0 + timedelta(days=8)) is None
    assert len(index) == 1  # the first story was evicted


def test_english_and_chinese_reports_of_one_event_join() -> None:
    index = StoryIndex()
    assert index.assign(1, *ZH_EN_A, "zh-Hans", T0) is None
    assert index.assign(2, *EN_ZH_A, "en", T0 + timedelta(hours=3)) == 1
    separate = StoryIndex(StoryRule(cross_language=False))
    assert separate.assign(1, *ZH_EN_A, "zh-Hans", T0) is None
    assert separate.assign(2, *EN_ZH_A, "en", T0 + timedelta(hours=3)) is None


def test_features_of_paraphrases_agree_on_names_and_numbers() -> None:
    a, b = features(EN_A, "en"), features(EN_B, "en")
    assert {"nvidia", "h20", "jensenhuang", "trump", "bernstein"} <= a.entities & b.entities
    assert {"4.5e+09", "1.5e+10"} <= a.numbers & b.numbers
    assert cosine(a.terms, b.terms) > cosine(a.terms, features(EN_OTHER, "en").terms)
