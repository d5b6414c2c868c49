"""Story features: the names, numbers and terms `monitor.keep.stories` compares items by.

All are read from the folded text (`fold_text`), so traditional and simplified Chinese compare
alike:

- entities: capitalised names, acronyms and model numbers of English text (Nvidia, BIS, H20,
  910C, B30A), Latin tokens inside Chinese text, and the names of `ALIASES`, which maps them
  across languages and scripts (英伟达 / 輝達 / Nvidia → `nvidia`);
- numbers: amounts in one scale (171亿美元 and $17.1 billion → `1.71e+10`), percentages,
  nanometres, gigawatts, calendar dates (July 31 and 7月31日 → `d7-31`), bare numbers from 100
  up; bare years and small counts are left out as too common;
- terms: content words (English) or character bigrams (Chinese, Taiwan and mainland words for
  the same thing made one) for a set cosine.

A text is read once (`_read`: folded, split into words or Latin tokens) and each extractor
takes what it needs from that, whatever the language. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, repeat

import numpy as np
from numpy.typing import NDArray

from monitor.text.normalize import fold_text

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
_POSSESSIVE = ("'s", "’s")
_NUMBER_GLUE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.,")


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


@dataclass(frozen=True, slots=True)
class _Text:
    """A text as the extractors read it: raw (English names are told by their capitals), folded,
    and its words (English, punctuation stripped from their ends) or Latin tokens (Chinese)."""

    raw: str
    folded: str
    chinese: bool
    words: list[str]


def _read(raw: str, lang: str, folded: str | None = None) -> _Text:
    chinese = family(lang) == "zh"
    folded = fold_text(raw) if folded is None else folded
    if chinese:
        return _Text(raw, folded, True, _LATIN.findall(folded))
    return _Text(raw, folded, False, list(filter(None, map(str.strip, folded.split(), repeat(_PUNCTUATION)))))


def _known_names(text: _Text) -> set[str]:
    """Keys of the names of `ALIASES` of several words (any text) or in Chinese (Chinese text)."""
    table = _aliases()
    found = {ALIASES[m] for m in table.chinese.findall(text.folded)} if text.chinese else set()
    if table.phrase_heads.isdisjoint(text.words):
        return found
    words = text.words
    for i, word in enumerate(words):
        if word in table.phrase_heads:
            for n in range(2, table.longest_phrase + 1):
                if (key := ALIASES.get(" ".join(words[i : i + n]))) is not None:
                    found.add(key)
    return found


def _entities(text: _Text) -> frozenset[str]:
    found = _known_names(text)
    if text.chinese:
        tokens = text.words
    else:  # only capitalised words are names in English: "us", "arm" and "mate" are words too
        raw = unicodedata.normalize("NFKC", text.raw).replace("U.S.", "US")
        tokens = [t.casefold() for t in _CAPITALISED.findall(raw)]
    for token in tokens:
        if token in _NOT_NAMES or len(token) < 2 or token.isdigit():
            continue
        if not (token[0].isdecimal() and _UNIT_SUFFIX.match(token)):  # 7nm, 16gb: sizes, not names
            found.add(ALIASES.get(token, token))
    return frozenset(found)


def extract_entities(text: str, lang: str) -> frozenset[str]:
    """Canonical keys of the names in a raw text: names of `ALIASES` in any script, capitalised
    words, acronyms and model numbers (English), Latin tokens (Chinese)."""
    return _entities(_read(text, lang))


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
        # a month name ends in white space right before the day: only then is it looked for
        spaced = start and folded[start - 1].isspace()
        month = _MONTH_BEFORE.search(folded, max(0, start - 12), start) if spaced else None
        day = _DAY.match(folded, start) if month else None
        if month and day and 1 <= int(day[0]) <= 31:
            found.add(f"d{_MONTHS[month['month']]}-{int(day[0])}")
            done = day.end()
            continue
        m = _QUANTITY.match(folded, start)
        if m is None:
            continue
        done = m.end()
        zmonth, zday, dday, dmonth, whole, fraction, unit = m.groups()
        if zmonth or dmonth:
            found.add(f"d{int(zmonth) if zmonth else _MONTHS[dmonth]}-{int(zday or dday)}")
            continue
        end = m.end("fraction") if fraction else m.end("whole")
        after = folded[end : end + 1]
        if unit is None and after.isascii() and after.isalnum():
            continue  # part of a name such as 910C
        if (key := _number_key(whole, fraction, unit)) is not None:
            found.add(key)
    return frozenset(found)


def _number_key(whole: str, fraction: str | None, unit: str | None) -> str | None:
    digits = whole.replace(",", "") + (fraction or "")
    if unit is None:
        return None if fraction is None and (float(digits) < 100 or _YEAR.match(whole)) else digits
    if unit in _UNIT:
        return f"{float(digits):.3g}{_UNIT[unit]}"
    return f"{float(digits) * _SCALE[unit]:.3g}"


def _term_ids(text: _Text) -> NDArray[np.int64]:
    if text.chinese:
        folded = text.folded
        for variant, common in _ZH_VARIANTS.items():
            folded = folded.replace(variant, common)
        codes = np.frombuffer(folded.encode("utf-32-le"), dtype="<u4").astype(np.int64)
        cjk = (codes >= 0x3400) & (codes <= 0x9FFF)
        pairs = cjk[:-1] & cjk[1:]
        bigrams = (codes[:-1][pairs] << 21) | codes[1:][pairs]  # a code point fits 21 bits
        ids = np.sort(np.concatenate((bigrams, np.fromiter(map(hash, text.words), np.int64, len(text.words)))))
        return ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if len(ids) else ids  # np.unique, faster
    terms = {  # without a possessive 's or a plural -s
        w if w[-1:] != "s" else w[:-2] if w[-2:] in _POSSESSIVE else w[:-1] if len(w) > 3 and w[-2] not in "s'’" else w
        for w in set(text.words) - _STOPWORDS
    }
    hashes = {hash(w) for w in terms}
    ids = np.fromiter(hashes, dtype=np.int64, count=len(hashes))
    ids.sort()
    return ids


def term_ids(text: str, lang: str) -> NDArray[np.int64]:
    """The terms of a raw text as sorted distinct ids: content words (English, plural -s
    dropped) or character bigrams and Latin tokens (Chinese). Ids are hashes of this process,
    for comparing in memory, never to be stored."""
    return _term_ids(_read(text, lang))


def cosine(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
    """Cosine of two term sets (as binary vectors)."""
    return float(overlaps(a, [b])[0]) / float(np.sqrt(len(a) * len(b))) if len(a) and len(b) else 0.0


def overlaps(query: NDArray[np.int64], others: list[NDArray[np.int64]]) -> list[int]:
    """How many elements each of `others` shares with the sorted `query`, in one numpy pass
    (a few calls whatever the number of others: per call, numpy's overhead is most of the cost)."""
    lengths = [len(other) for other in others]
    if not len(query) or not any(lengths):
        return [0] * len(others)
    joined = np.concatenate(others)
    found = query.take(query.searchsorted(joined), mode="clip") == joined
    starts = [0, *accumulate(lengths[:-1])]
    if all(lengths):
        return np.add.reduceat(found, starts, dtype=np.intp).tolist()  # type: ignore[no-any-return]
    nonempty = [start for start, n in zip(starts, lengths, strict=True) if n]
    counts = iter(np.add.reduceat(found, nonempty, dtype=np.intp).tolist())
    return [next(counts) if n else 0 for n in lengths]  # reduceat cannot sum an empty run


@dataclass(frozen=True, slots=True, eq=False)
class StoryFeatures:
    """What story grouping compares: language family, names, numbers, term ids, and the item's
    vector and its headline's and lead sentences' (`monitor.keep.story_vectors`; None where no encoder
    ran)."""

    family: str
    entities: frozenset[str]
    numbers: frozenset[str]
    terms: NDArray[np.int64]
    vector: NDArray[np.float32] | None = None
    sentences: NDArray[np.float32] | None = None  # one row per text, normalised

    def index_keys(self) -> set[str]:
        """Index keys: names and numbers, kept apart by a prefix."""
        return {f"e:{e}" for e in self.entities} | {f"n:{n}" for n in self.numbers}


def extract_features(
    title: str,
    text: str,
    lang: str,
    folded: str | None = None,
    vector: NDArray[np.float32] | None = None,
    sentences: NDArray[np.float32] | None = None,
) -> StoryFeatures:
    """The story features of an item's headline and text (`folded`: their `fold_text`, if
    the caller has it already: f"{title}\\n{text}" folded), with its vectors if any."""
    read = _read(f"{title}\n{text}", lang, folded)
    return StoryFeatures(family(lang), _entities(read), _numbers(read.folded), _term_ids(read), vector, sentences)
