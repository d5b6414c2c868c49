"""Story grouping: items that report one event in different words share a story id.

Three kinds of evidence, all from the folded text (`fold_text`), so traditional and simplified
Chinese compare alike:

- entities: capitalised names, acronyms and model numbers of English text (Nvidia, BIS, H20,
  910C, B30A), Latin tokens inside Chinese text, and the names of `ALIASES`, which maps them
  across languages and scripts (英伟达 / 輝達 / Nvidia → `nvidia`);
- numbers: amounts in one scale (171亿美元 and $17.1 billion → `1.71e+10`), percentages,
  nanometres, gigawatts, calendar dates (July 31 and 7月31日 → `d7-31`), bare numbers from 100
  up; bare years and small counts are left out as too common;
- terms: content words (English) or character bigrams (Chinese, Taiwan and mainland words for
  the same thing made one) for a set cosine.

`StoryRule` decides whether two items report one event. Its thresholds come from the dev set's
same-family pairs within 7 days (`bench/dedupe_eval.py` prints them): reports of different events
reach a term cosine of 0.23 (median 0.10), reports of one event mostly more than 0.3 (median 0.35,
15 of 19). Different events far outnumber same ones in a busy window, so the bar on terms alone
keeps a margin above them; names and a number in common are strong evidence (one such pair of
different events in the dev set, at 0.03), so with them 0.15 is enough. An item joins the story
of the best-scoring earlier item; a near copy joins the story of the item it copies.

Cost per item stays flat: candidate stories come from an inverted index on names and numbers that
keeps only the most recently updated stories per key, only the stories sharing the most (and the
rarest) keys are compared, each by its first and latest items, and stories without an item
within the window of the newest date are evicted. Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from monitor.normalize import fold_text

DEFAULT_WINDOW = timedelta(days=7)

# Known names, folded (simplified, lower case) surface form → canonical key. Names of the
# field (companies, agencies, products, people, places, materials), not of particular items.
ALIASES: dict[str, str] = {
    # companies
    "nvidia": "nvidia", "英伟达": "nvidia", "辉达": "nvidia",
    "amd": "amd", "超威": "amd",
    "intel": "intel", "英特尔": "intel",
    "qualcomm": "qualcomm", "高通": "qualcomm",
    "micron": "micron", "美光": "micron",
    "tsmc": "tsmc", "台积电": "tsmc",
    "samsung": "samsung", "三星": "samsung",
    "sk hynix": "skhynix", "hynix": "skhynix", "海力士": "skhynix",
    "asml": "asml", "阿斯麦": "asml",
    "smic": "smic", "中芯": "smic", "中芯国际": "smic",
    "huawei": "huawei", "华为": "huawei",
    "hisilicon": "hisilicon", "海思": "hisilicon",
    "cambricon": "cambricon", "寒武纪": "cambricon",
    "hygon": "hygon", "海光": "hygon",
    "biren": "biren", "壁仞": "biren",
    "moore threads": "moorethreads", "摩尔线程": "moorethreads",
    "ymtc": "ymtc", "长江存储": "ymtc",
    "cxmt": "cxmt", "长鑫": "cxmt",
    "alibaba": "alibaba", "阿里": "alibaba", "阿里巴巴": "alibaba",
    "bytedance": "bytedance", "字节": "bytedance", "字节跳动": "bytedance",
    "tencent": "tencent", "腾讯": "tencent",
    "baidu": "baidu", "百度": "baidu",
    "deepseek": "deepseek", "深度求索": "deepseek",
    "xiaomi": "xiaomi", "小米": "xiaomi",
    "openai": "openai",
    "microsoft": "microsoft", "微软": "microsoft",
    "google": "google", "谷歌": "google",
    "apple": "apple", "苹果": "apple",
    "dell": "dell", "戴尔": "dell",
    "supermicro": "supermicro", "美超微": "supermicro",
    "oracle": "oracle", "甲骨文": "oracle",
    "softbank": "softbank", "软银": "softbank",
    "arm": "arm", "安谋": "arm",
    "techinsights": "techinsights",
    # agencies and officials
    "bis": "bis", "bureau of industry and security": "bis", "工业与安全局": "bis", "工业安全局": "bis",
    "产业与安全局": "bis",
    "cac": "cac", "cyberspace administration": "cac", "网信办": "cac", "国家互联网信息办公室": "cac",
    "samr": "samr", "市场监管总局": "samr", "市监总局": "samr",
    "mofcom": "commerce", "commerce ministry": "commerce", "ministry of commerce": "commerce", "商务部": "commerce",
    "commerce department": "commerce", "department of commerce": "commerce",
    "entity list": "entitylist", "实体清单": "entitylist",
    "white house": "whitehouse", "白宫": "whitehouse",
    "trump": "trump", "特朗普": "trump", "川普": "trump",
    "biden": "biden", "拜登": "biden",
    "xi": "xi", "习近平": "xi",
    "lutnick": "lutnick", "卢特尼克": "lutnick",
    "raimondo": "raimondo", "雷蒙多": "raimondo",
    "jensen": "jensenhuang", "huang": "jensenhuang", "黄仁勋": "jensenhuang",
    "lisa su": "lisasu", "苏姿丰": "lisasu",
    # products and technologies
    "blackwell": "blackwell", "hopper": "hopper", "ascend": "ascend", "昇腾": "ascend",
    "kirin": "kirin", "麒麟": "kirin", "cuda": "cuda", "cann": "cann", "hbm": "hbm",
    "rtx": "rtx", "mate": "mate", "chatgpt": "chatgpt",
    # places and materials
    "us": "us", "u.s.": "us", "united states": "us", "america": "us", "american": "us", "美国": "us",
    "china": "china", "chinese": "china", "prc": "china", "中国": "china", "大陆": "china", "内地": "china",
    "taiwan": "taiwan", "台湾": "taiwan", "japan": "japan", "日本": "japan",
    "netherlands": "netherlands", "荷兰": "netherlands", "korea": "korea", "韩国": "korea",
    "malaysia": "malaysia", "马来西亚": "malaysia", "singapore": "singapore", "新加坡": "singapore",
    "gallium": "gallium", "镓": "gallium", "germanium": "germanium", "锗": "germanium",
    "antimony": "antimony", "锑": "antimony", "graphite": "graphite", "石墨": "graphite",
    "rare earth": "rareearth", "rare earths": "rareearth", "稀土": "rareearth",
}  # fmt: skip

# Capitalised words that say nothing about which event: sentence openers, months, days.
_NOT_NAMES = frozenset(
    """a an the this that these those it its he she they we i you his her their our in on at of for from by to
    with without under over after before during since until as and or but if while when where why how what who
    which even also still yet so then there here now today monday tuesday wednesday thursday friday saturday
    sunday january february march april may june july august september october november december jan feb mar
    apr jun jul aug sep sept oct nov dec according officials meanwhile however instead citing some many
    several other another all both each most more less one two three four five mr ms mrs dr new said says
    reported report reports""".split()  # noqa: SIM905
)
_STOPWORDS = frozenset(
    """a an the this that these those it its he she they we i you his her their our in on at of for from by to
    with without under over after before during since until as and or but if while when where why how what who
    which even also still yet so then there here now is are was were be been being has have had do does did
    will would can could may might must shall should not no nor than too very just only about into out up down
    off per via such said says say told according other another all both each most more less some any many
    much own same new one two three four five last first next year years month week day""".split()  # noqa: SIM905
)
# Taiwan and mainland words for one thing, made one for the term cosine (after t2s folding).
_ZH_VARIANTS = {
    "晶片": "芯片", "伺服器": "服务器", "软体": "软件", "奈米": "纳米", "辉达": "英伟达", "网路": "网络",
    "川普": "特朗普", "记忆体": "内存", "报导": "报道", "资料中心": "数据中心",
}  # fmt: skip
_MONTHS = {
    name: number
    for number, names in enumerate(
        ["january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul", "august aug",
         "september sep sept", "october oct", "november nov", "december dec"],
        start=1,
    )
    for name in names.split()
}  # fmt: skip
_SCALE = {
    "trillion": 1e12, "tn": 1e12, "万亿": 1e12, "billion": 1e9, "bn": 1e9, "亿": 1e8,
    "million": 1e6, "mn": 1e6, "m": 1e6, "万": 1e4, "thousand": 1e3, "千": 1e3,
}  # fmt: skip
_UNIT = {
    "%": "%", "percent": "%", "per cent": "%", "nm": "nm", "nanometre": "nm", "nanometer": "nm",
    "nanometres": "nm", "nanometers": "nm", "纳米": "nm", "奈米": "nm", "gw": "gw", "gigawatt": "gw",
    "gigawatts": "gw",
}  # fmt: skip
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DIGITS = re.compile(r"\d+")
_QUANTITY = re.compile(  # matched where a run of digits starts
    r"(?P<zmonth>\d{1,2})\s*月\s*(?P<zday>\d{1,2})\s*[日号]"
    rf"|(?P<dday>\d{{1,2}})\s+(?P<dmonth>{_MONTH_RE})(?![a-z])"
    r"|(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?P<fraction>\.\d+)?\s*-?\s*"
    r"(?P<unit>per cent|percent|%|trillion|billion|million|thousand|万亿|亿|万|千|bn|tn|mn|m\b|"
    r"nanomet(?:re|er)s?|nm\b|纳米|奈米|gigawatts?|gw\b)?"
)
_MONTH_BEFORE = re.compile(rf"(?<![a-z])(?P<month>{_MONTH_RE})\.?\s+$")
_DAY = re.compile(r"\d{1,2}(?!\d)")
_YEAR = re.compile(r"^(19[5-9]\d|20[0-4]\d)$")
_CAPITALISED = re.compile(r"[A-Z0-9][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")  # words, acronyms, model numbers
_LATIN = re.compile(r"[a-z][a-z0-9]*(?:[-+][a-z0-9]+)*|\d+[a-z][a-z0-9]*")
_UNIT_SUFFIX = re.compile(r"^\d+(?:nm|gb|tb|mb|bn|tn|mn|m|k|s|th|st|nd|rd|gw|mw|w|x|pm|am)$")
_PUNCTUATION = ".,;:!?\"'()[]{}<>“”‘’«»…—–-/|*•·"
_NUMBER_GLUE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.,")

MAX_MEMBERS = 3  # items of a story an item is compared with: its first and its latest ones
MAX_POSTING = 16  # stories kept per name or number: the most recently updated
MAX_CANDIDATES = 6  # stories compared per item: those sharing the most, and the rarest, keys


def family(lang: str) -> str:
    """`en` or `zh`: the language family stories are grouped within."""
    return "zh" if lang.lower().startswith("zh") else "en"


@dataclass(frozen=True, slots=True)
class _AliasTable:
    phrase_heads: frozenset[str]  # first words of the Latin names of several words
    longest_phrase: int
    chinese: re.Pattern[str]  # the Chinese names, longest first


@lru_cache(maxsize=1)
def _aliases() -> _AliasTable:
    phrases = [name.split() for name in ALIASES if name.isascii() and " " in name]
    chinese = sorted((name for name in ALIASES if not name.isascii()), key=len, reverse=True)
    return _AliasTable(frozenset(p[0] for p in phrases), max(len(p) for p in phrases), re.compile("|".join(chinese)))


def _words(folded: str) -> list[str]:
    """The words of a folded text, punctuation stripped from their ends."""
    return [w for w in (t.strip(_PUNCTUATION) for t in folded.split()) if w]


def _known_names(folded: str, words: list[str], chinese: bool) -> set[str]:
    """Keys of the names of `ALIASES` of several words (any text) or in Chinese (Chinese text)."""
    table = _aliases()
    found = {ALIASES[m] for m in table.chinese.findall(folded)} if chinese else set()
    for i, word in enumerate(words):
        if word in table.phrase_heads:
            for n in range(2, table.longest_phrase + 1):
                if (key := ALIASES.get(" ".join(words[i : i + n]))) is not None:
                    found.add(key)
    return found


def _entities(text: str, folded: str, words: list[str], chinese: bool) -> frozenset[str]:
    found = _known_names(folded, words, chinese)
    if chinese:
        tokens = words
    else:  # only capitalised words are names in English: "us", "arm" and "mate" are words too
        raw = unicodedata.normalize("NFKC", text).replace("U.S.", "US")
        tokens = [t.casefold() for t in _CAPITALISED.findall(raw)]
    for token in tokens:
        if token not in _NOT_NAMES and len(token) > 1 and not token.isdigit() and not _UNIT_SUFFIX.match(token):
            found.add(ALIASES.get(token, token))
    return frozenset(found)


def extract_entities(text: str, lang: str) -> frozenset[str]:
    """Canonical keys of the names in a raw text: names of `ALIASES` in any script, capitalised
    words, acronyms and model numbers (English), Latin tokens (Chinese)."""
    folded, chinese = fold_text(text), family(lang) == "zh"
    return _entities(text, folded, _LATIN.findall(folded) if chinese else _words(folded), chinese)


def extract_numbers(text: str) -> frozenset[str]:
    """Normal forms of the amounts, percentages, sizes and calendar dates in a raw text."""
    return _numbers(fold_text(text))


def _numbers(folded: str) -> frozenset[str]:
    found: set[str] = set()
    done = 0
    for digits in _DIGITS.finditer(folded):
        start = digits.start()
        if start < done or (start and folded[start - 1] in _NUMBER_GLUE):
            continue  # read already, or part of a name (H20) or of a number
        month = _MONTH_BEFORE.search(folded, max(0, start - 12), start)
        day = _DAY.match(folded, start) if month else None
        if month and day and 1 <= int(day[0]) <= 31:
            found.add(f"d{_MONTHS[month['month']]}-{int(day[0])}")
            done = day.end()
            continue
        m = _QUANTITY.match(folded, start)
        if m is None:
            continue
        done = m.end()
        if m["zmonth"] or m["dmonth"]:
            month_number = int(m["zmonth"]) if m["zmonth"] else _MONTHS[m["dmonth"]]
            found.add(f"d{month_number}-{int(m['zday'] or m['dday'])}")
            continue
        after = folded[m.end("fraction") if m["fraction"] else m.end("whole") :][:1]
        if m["unit"] is None and after.isascii() and after.isalnum():
            continue  # part of a name such as 910C
        if (key := _number_key(m["whole"], m["fraction"], m["unit"])) is not None:
            found.add(key)
    return frozenset(found)


def _number_key(whole: str, fraction: str | None, unit: str | None) -> str | None:
    digits = whole.replace(",", "") + (fraction or "")
    if unit is None:
        return None if fraction is None and (float(digits) < 100 or _YEAR.match(whole)) else digits
    if unit in _UNIT:
        return f"{float(digits):.3g}{_UNIT[unit]}"
    return f"{float(digits) * _SCALE[unit]:.3g}"


def _term_ids(folded: str, words: list[str], chinese: bool) -> NDArray[np.int64]:
    if chinese:
        for variant, common in _ZH_VARIANTS.items():
            folded = folded.replace(variant, common)
        codes = np.frombuffer(folded.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        cjk = (codes >= 0x3400) & (codes <= 0x9FFF)
        pairs = cjk[:-1] & cjk[1:]
        bigrams = (codes[:-1][pairs] << 21) | codes[1:][pairs]  # a code point fits 21 bits
        return np.unique(np.concatenate((bigrams, np.array([hash(w) for w in words], dtype=np.int64))))
    terms = set(words) - _STOPWORDS
    plural = {w for w in terms if w[-1:] == "s" and len(w) > 3 and w[-2] not in "s'’"}
    possessive = {w for w in terms if w[-2:] in ("'s", "’s")}
    terms = (terms - plural - possessive) | {w[:-1] for w in plural} | {w[:-2] for w in possessive}
    return np.unique(np.array([hash(w) for w in terms], dtype=np.int64))


def term_ids(text: str, lang: str) -> NDArray[np.int64]:
    """The terms of a raw text as sorted distinct ids: content words (English, plural -s
    dropped) or character bigrams and Latin tokens (Chinese). Ids are hashes of this process,
    for comparing in memory, never to be stored."""
    folded, chinese = fold_text(text), family(lang) == "zh"
    return _term_ids(folded, _LATIN.findall(folded) if chinese else _words(folded), chinese)


def cosine(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
    """Cosine of two term sets (as binary vectors)."""
    return float(overlaps(a, [b])[0]) / float(np.sqrt(len(a) * len(b))) if len(a) and len(b) else 0.0


def overlaps(query: NDArray[np.int64], others: list[NDArray[np.int64]]) -> list[int]:
    """How many elements each of `others` shares with the sorted `query`, in one numpy pass."""
    if not others or not len(query):
        return [0] * len(others)
    joined = np.concatenate(others)
    at = np.minimum(np.searchsorted(query, joined), len(query) - 1)
    hits = np.concatenate(([0], np.cumsum(query[at] == joined)))
    ends = np.cumsum(np.fromiter((len(o) for o in others), dtype=np.int64, count=len(others)))
    starts = np.concatenate(([0], ends[:-1]))
    return (hits[ends] - hits[starts]).tolist()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True, eq=False)
class StoryFeatures:
    """What story grouping compares: language family, names, numbers, term ids."""

    family: str
    entities: frozenset[str]
    numbers: frozenset[str]
    terms: NDArray[np.int64]

    def index_keys(self) -> set[str]:
        """Index keys: names and numbers, kept apart by a prefix."""
        return {f"e:{e}" for e in self.entities} | {f"n:{n}" for n in self.numbers}


def extract_features(title: str, text: str, lang: str, folded: str | None = None) -> StoryFeatures:
    """The story features of an item's headline and text (`folded`: their `fold_text`, if
    the caller has it already: f"{title}\\n{text}" folded)."""
    full = f"{title}\n{text}"
    chinese = family(lang) == "zh"
    folded = fold_text(full) if folded is None else folded
    words = _LATIN.findall(folded) if chinese else _words(folded)
    return StoryFeatures(
        family(lang),
        _entities(full, folded, words, chinese),
        _numbers(folded),
        _term_ids(folded, words, chinese),
    )


@dataclass(frozen=True, slots=True)
class StoryRule:
    """When two items, `gap` apart, report one event.

    Same language family: terms alike (cosine ≥ `text_sim`), or somewhat alike
    (≥ `supported_sim`) with `min_entities` names and `min_numbers` numbers in common.
    Across families, where terms cannot be compared: within `cross_gap`, with
    `cross_entities` names and `cross_numbers` numbers in common.
    """

    window: timedelta = DEFAULT_WINDOW
    text_sim: float = 0.30
    supported_sim: float = 0.15
    min_entities: int = 2
    min_numbers: int = 1
    cross_language: bool = True
    cross_gap: timedelta = timedelta(days=2)
    cross_entities: int = 3
    cross_numbers: int = 2

    def score(self, a: StoryFeatures, b: StoryFeatures, gap: timedelta) -> float | None:
        """How strongly `a` and `b` report one event (higher is stronger), or None if they don't."""
        sim = cosine(a.terms, b.terms) if a.family == b.family else None
        return self.decide(a, b, gap, sim)

    def decide(self, a: StoryFeatures, b: StoryFeatures, gap: timedelta, sim: float | None) -> float | None:
        """`score` given the term cosine `sim` (None across families)."""
        if gap > self.window:
            return None
        if sim is None:
            if not self.cross_language or gap > self.cross_gap:
                return None
            agree = (
                len(a.entities & b.entities) >= self.cross_entities and len(a.numbers & b.numbers) >= self.cross_numbers
            )
            return 0.0 if agree else None
        if sim >= self.text_sim:
            return sim
        if sim < self.supported_sim:
            return None
        agree = len(a.entities & b.entities) >= self.min_entities and len(a.numbers & b.numbers) >= self.min_numbers
        return sim if agree else None


@dataclass(slots=True)
class _Story:
    story_id: int
    first: tuple[float, StoryFeatures]
    latest: list[tuple[float, StoryFeatures]]
    last_ts: float
    item_ids: list[int] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    def members(self) -> list[tuple[float, StoryFeatures]]:
        return [self.first, *self.latest]


class StoryIndex:
    """The stories of a time window; `assign` places each new item in one.

    A story's id is the id of its first item. Stories with no item within `rule.window` of the
    newest date seen are evicted, so memory and cost per item stay flat.
    """

    def __init__(self, rule: StoryRule | None = None) -> None:
        self.rule = rule or StoryRule()
        self._stories: dict[int, _Story] = {}
        self._story_of: dict[int, int] = {}
        self._postings: dict[str, OrderedDict[int, None]] = {}
        self._expiry: list[tuple[float, int]] = []
        self._newest = float("-inf")

    def __len__(self) -> int:
        return len(self._stories)

    def assign(
        self,
        item_id: int,
        title: str,
        text: str,
        lang: str,
        published_at: datetime,
        duplicate_of: int | None = None,
        folded: str | None = None,
    ) -> int | None:
        """The story this item joins (an earlier item's id), or None when it starts its own
        (whose id is then `item_id`). A near copy (`duplicate_of`, the root `NearDupIndex`
        gave) joins its original's story. `folded`: see `extract_features`."""
        features = extract_features(title, text, lang, folded)
        return self.assign_features(item_id, features, published_at, duplicate_of)

    def assign_features(
        self, item_id: int, features: StoryFeatures, published_at: datetime, duplicate_of: int | None = None
    ) -> int | None:
        """`assign` for features already extracted."""
        ts = _timestamp(published_at)
        story = None
        if duplicate_of is not None and duplicate_of in self._story_of:
            story = self._stories[self._story_of[duplicate_of]]
        story = story or self._best_story(features, ts)
        joined = story.story_id if story is not None else None
        if story is None:
            story = self._stories[item_id] = _Story(item_id, (ts, features), [], ts)
            heapq.heappush(self._expiry, (ts, item_id))
        self._add_member(story, item_id, features, ts)
        if ts > self._newest:
            self._newest = ts
            self._evict(ts - self.rule.window.total_seconds())
        return joined

    def restore(self, item_id: int, story_id: int, features: StoryFeatures, published_at: datetime) -> None:
        """Put back an item already placed in `story_id` (rebuilding the index from storage),
        without deciding anew."""
        ts = _timestamp(published_at)
        story = self._stories.get(story_id)
        if story is None:
            story = self._stories[story_id] = _Story(story_id, (ts, features), [], ts)
            heapq.heappush(self._expiry, (ts, story_id))
        self._add_member(story, item_id, features, ts)
        if ts > self._newest:
            self._newest = ts
            self._evict(ts - self.rule.window.total_seconds())

    def _best_story(self, features: StoryFeatures, ts: float) -> _Story | None:
        window = self.rule.window.total_seconds()
        pairs = [
            (story, member, abs(ts - member_ts))
            for story in self._candidates(features)
            for member_ts, member in story.members()
            if abs(ts - member_ts) <= window
        ]
        same = [m.terms for _, m, _ in pairs if m.family == features.family]
        shared = iter(overlaps(features.terms, same))
        best: tuple[float, _Story] | None = None
        for story, member, gap in pairs:
            sim = None
            if member.family == features.family:
                size = len(member.terms) * len(features.terms)
                sim = next(shared) / size**0.5 if size else 0.0
            score = self.rule.decide(features, member, timedelta(seconds=gap), sim)
            if score is not None and (best is None or score > best[0]):
                best = (score, story)
        return None if best is None else best[1]

    def _candidates(self, features: StoryFeatures) -> list[_Story]:
        """The stories sharing the most keys, a key counting more the fewer stories hold it."""
        weights: dict[int, float] = defaultdict(float)
        for key in features.index_keys():
            posting = self._postings.get(key)
            if posting:
                for sid in posting:
                    weights[sid] += 1.0 / len(posting)
        best = heapq.nlargest(MAX_CANDIDATES, weights.items(), key=lambda kv: kv[1])
        return [self._stories[sid] for sid, _ in best]

    def _add_member(self, story: _Story, item_id: int, features: StoryFeatures, ts: float) -> None:
        story.item_ids.append(item_id)
        if story.item_ids[0] != item_id:
            story.latest = [*story.latest, (ts, features)][-(MAX_MEMBERS - 1) :]
        self._story_of[item_id] = story.story_id
        for key in features.index_keys():
            story.keys.add(key)
            posting = self._postings.setdefault(key, OrderedDict())
            posting[story.story_id] = None
            posting.move_to_end(story.story_id)
            if len(posting) > MAX_POSTING:
                posting.popitem(last=False)
        if ts > story.last_ts:
            story.last_ts = ts
            heapq.heappush(self._expiry, (ts, story.story_id))

    def _evict(self, cutoff: float) -> None:
        while self._expiry and self._expiry[0][0] < cutoff:
            ts, sid = heapq.heappop(self._expiry)
            story = self._stories.get(sid)
            if story is None or story.last_ts != ts:
                continue  # a later item moved the story on
            del self._stories[sid]
            for item_id in story.item_ids:
                self._story_of.pop(item_id, None)
            for key in story.keys:
                posting = self._postings.get(key)
                if posting is not None:
                    posting.pop(sid, None)
                    if not posting:
                        del self._postings[key]


def _timestamp(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
