"""Near-duplicate detection (pure): shingles, signatures, the windowed index."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from datasketch import MinHash

from monitor.keep.neardup import (
    LONG_SHINGLES,
    MIN_SHINGLES,
    NUM_PERM,
    SEED,
    SHORT_THRESHOLD,
    THRESHOLD,
    NearDupIndex,
    Signature,
    shingle_hashes,
    shingles,
    signature,
    signature_of,
    signatures,
    threshold_for,
)
from monitor.text.normalize import fold_text

T0 = datetime(2025, 7, 31, 8, tzinfo=UTC)

EN_ORIGINAL = (
    "Nvidia said on Tuesday that the US Commerce Department had granted it licences to ship H20 chips to China, "
    "reversing an April ban that cost the company $4.5 billion in charges. Chief executive Jensen Huang met "
    "President Donald Trump at the White House last week, the company said in a statement. The H20 was designed "
    "for the Chinese market to comply with export controls, and its sales had been halted since April 15. "
    "Analysts at Bernstein said the licences could restore as much as $15 billion in annual revenue. Beijing has "
    "not commented on the decision, and Chinese buyers including Tencent and ByteDance are expected to place "
    "new orders within weeks, according to people familiar with the matter."
)
# Wire copy on another site: new headline, a source line, two words changed.
EN_COPY = "US clears H20 sales to China, Nvidia says\n(Reuters) - " + EN_ORIGINAL.replace(
    "on Tuesday", "on Tuesday evening"
).replace("place new orders", "submit new orders")
# The same event in other words: a story-mate, not a copy.
EN_PARAPHRASE = (
    "The US government has cleared Nvidia to resume sales of its H20 artificial intelligence chip to Chinese "
    "customers, the chipmaker announced. Approval from Washington ends a ban imposed in April that forced Nvidia "
    "to book $4.5 billion in charges. Jensen Huang, its chief executive, lobbied Donald Trump in person. Bernstein "
    "analysts estimate that the decision could bring back up to $15 billion a year in sales, with Tencent and "
    "ByteDance among the likely buyers of the processors."
)
EN_OTHER = (
    "Huawei unveiled its Ascend 950 processor at a developer conference in Shanghai on Thursday, promising to ship "
    "the chip in the first quarter of 2026. The company said clusters of 8,192 of the processors would be linked in "
    "its Atlas 950 supernode, which it described as the most powerful computing system in the world. Rotating "
    "chairman Eric Xu said the firm would publish its chip roadmap every year and would develop its own "
    "high-bandwidth memory. The announcement comes as Chinese regulators discourage purchases of Nvidia products "
    "and urge data centres to buy domestic processors."
)
ZH_ORIGINAL = (
    "国家网信办7月31日约谈英伟达公司，要求其就H20算力芯片存在的漏洞后门安全风险作出说明，并提交相关证明材料。"
    "网信办表示，依据《网络安全法》《数据安全法》和《个人信息保护法》，维护中国用户的网络安全和数据安全。"
    "此前有美国议员提出，出口的先进芯片必须配备追踪定位功能，美国人工智能专家也表示英伟达芯片的远程关闭技术已经成熟。"
)
# A 转载 reprint in traditional script with a source line.
ZH_REPRINT = (
    "【財經快訊】國家網信辦7月31日約談英偉達公司，要求其就H20算力芯片存在的漏洞後門安全風險作出說明，並提交相關證明材料。"
    "網信辦表示，依據《網絡安全法》《數據安全法》和《個人信息保護法》，維護中國用戶的網絡安全和數據安全。"
    "此前有美國議員提出，出口的先進芯片必須配備追蹤定位功能，美國人工智能專家也表示英偉達芯片的遠程關閉技術已經成熟。"
    "（文章來源：央視新聞客戶端）"
)
ZH_OTHER = (
    "中国商务部11月9日宣布，暂停执行2024年第46号公告中关于镓、锗、锑等两用物项对美出口的禁令，期限至2026年11月27日。"
    "石墨两用物项的最终用户审查也同步放宽。分析人士认为，此举是中美经贸磋商之后释放的缓和信号，"
    "相关稀土物项的出口管制措施也将暂停执行一年，海关总署将配合落实。"
)


def sig(text: str, lang: str) -> Signature:
    s = signature(text, lang)
    assert s is not None, "fixture too short for a signature"
    return s


def test_english_shingles_are_word_trigrams_of_folded_text() -> None:
    assert shingles(fold_text("NVIDIA H20 chips, again."), "en") == {"nvidia h20 chips", "h20 chips again"}


def test_chinese_shingles_are_character_4grams_without_punctuation() -> None:
    assert shingles(fold_text("英偉達，H20芯片"), "zh-Hant") == {"英伟达h", "伟达h2", "达h20", "h20芯", "20芯片"}


@pytest.mark.parametrize(("text", "lang"), [(EN_ORIGINAL, "en"), (ZH_REPRINT, "zh-Hant"), ("one two", "en")])
def test_shingle_hashes_count_the_distinct_shingles(text: str, lang: str) -> None:
    folded = fold_text(text)
    assert len(shingle_hashes(folded, lang)) == len(shingles(folded, lang))


def test_signature_equals_datasketch_minhash_of_the_shingle_hashes() -> None:
    hashes = shingle_hashes(fold_text(EN_ORIGINAL), "en")
    reference = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32", hashfunc=int)
    reference.update_batch(hashes.tolist())
    assert np.array_equal(sig(EN_ORIGINAL, "en").values, reference.hashvalues)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("China summons Nvidia over H20 backdoor risks", "en"),  # a headline
        ("网信办就H20漏洞后门隐患约谈英伟达 责成说明并提交证明", "zh-Hans"),
        ("", "en"),
    ],
)
def test_short_texts_get_no_signature(text: str, lang: str) -> None:
    assert len(shingles(fold_text(text), lang)) < MIN_SHINGLES
    assert signature(text, lang) is None


def test_signatures_of_many_texts_are_each_ones_signature() -> None:
    """Computed together (shingles across joined texts, MinHash in blocks) but alike: texts of
    both languages, too short ones, and one long enough to be cut into several blocks."""
    rng = random.Random(5)
    words = [f"w{i}" for i in range(400)]
    texts = [
        EN_ORIGINAL,
        ZH_ORIGINAL,
        "too short",
        EN_COPY,
        ZH_REPRINT,
        " ".join(rng.choice(words) for _ in range(3000)),
    ]
    langs = ["en", "zh-Hans", "en", "en", "zh-Hant", "en"]
    folded = [(fold_text(t), lang) for t, lang in zip(texts, langs, strict=True)]
    together = signatures(folded)
    for (text, lang), got in zip(folded, together, strict=True):
        alone = signature_of(shingle_hashes(text, lang))
        assert (got is None) == (alone is None)
        assert got is None or alone is None or got.to_bytes() == alone.to_bytes()
    assert together[2] is None and together[5] is not None and together[5].size > 2000


def test_registering_many_at_once_finds_the_roots_of_registering_in_turn() -> None:
    """Copies among the items registered together and of earlier ones, through evictions and
    compactions (a short window), at several batch sizes."""
    rng = random.Random(11)
    vocabulary = [f"w{i}" for i in range(3000)]
    texts = [random_text(rng, vocabulary) for _ in range(300)]
    entries = []
    for n in range(1500):
        text = texts[rng.randrange(len(texts))] if rng.random() < 0.5 else random_text(rng, vocabulary)
        entries.append((n, sig(text + f" x{n}", "en"), T0 + timedelta(hours=n // 3)))
    one_by_one = NearDupIndex(window=timedelta(days=4))
    expected = [one_by_one.register(*entry) for entry in entries]
    assert sum(root is not None for root in expected) > 200
    for size in (1, 7, 300, 1500):
        index = NearDupIndex(window=timedelta(days=4))
        got = [
            root
            for start in range(0, len(entries), size)
            for root in index.register_many(entries[start : start + size])
        ]
        assert got == expected
        assert len(index) == len(one_by_one)


def test_adding_many_at_once_builds_the_index_adding_in_turn_does() -> None:
    """`add_many` (a start restoring its window) answers as adds one by one do: the same
    matches, roots and size, through evictions and slot reuse (a short window), in batches of
    several sizes, and the items registered after it find the same roots."""
    rng = random.Random(17)
    vocabulary = [f"w{i}" for i in range(3000)]
    texts = [random_text(rng, vocabulary) for _ in range(200)]
    entries: list[tuple[int, Signature, datetime, int | None]] = []
    for n in range(1200):
        copied = rng.random() < 0.4
        text = texts[rng.randrange(len(texts))] if copied else random_text(rng, vocabulary)
        entries.append((n, sig(text + f" x{n}", "en"), T0 + timedelta(hours=n // 3), n - 1 if copied and n else None))
    later = [(2000 + n, sig(texts[n % len(texts)] + " later", "en"), T0 + timedelta(days=17)) for n in range(300)]
    probes = [sig(t + " probe", "en") for t in texts[:100]]
    one_by_one = NearDupIndex(window=timedelta(days=4))
    for entry in entries:
        one_by_one.add(*entry)
    expected = ([one_by_one.match(p) for p in probes], len(one_by_one))
    assert sum(m is not None for m in expected[0]) > 20
    registered = one_by_one.register_many(later)
    for size in (1, 50, 256, 1200):
        index = NearDupIndex(window=timedelta(days=4))
        for start in range(0, len(entries), size):
            index.add_many(entries[start : start + size])
        assert ([index.match(p) for p in probes], len(index)) == expected
        assert index.register_many(later) == registered


def test_short_pairs_need_the_higher_threshold() -> None:
    assert threshold_for(LONG_SHINGLES, 10 * LONG_SHINGLES) == THRESHOLD
    assert threshold_for(LONG_SHINGLES - 1, 10 * LONG_SHINGLES) == SHORT_THRESHOLD > THRESHOLD


def test_signature_round_trips_through_bytes() -> None:
    original = sig(ZH_ORIGINAL, "zh-Hans")
    data = original.to_bytes()
    back = Signature.from_bytes(data)
    assert back.values.dtype == np.uint32 and np.array_equal(back.values, original.values)
    assert back.size == original.size and back.jaccard(original) == 1.0
    assert len(data) == 8 + 4 * NUM_PERM


@pytest.mark.parametrize("data", [b"", b"MH1\x00" + b"\x00" * 10, b"XXXX" + b"\x00" * (4 + 4 * NUM_PERM)])
def test_signature_from_bytes_rejects_other_data(data: bytes) -> None:
    with pytest.raises(ValueError, match="signature"):
        Signature.from_bytes(data)


@pytest.mark.parametrize(
    ("original", "copy", "lang"),
    [(EN_ORIGINAL, EN_COPY, "en"), (ZH_ORIGINAL, ZH_REPRINT, "zh-Hant")],
    ids=["wire copy", "traditional reprint"],
)
def test_near_copy_points_at_the_original(original: str, copy: str, lang: str) -> None:
    index = NearDupIndex()
    assert index.register(1, sig(original, lang), T0) is None
    assert index.register(2, sig(EN_OTHER, "en"), T0) is None
    match = index.match(sig(copy, lang))
    assert match is not None and match.root_id == 1 and match.jaccard >= 0.5


@pytest.mark.parametrize(
    ("text", "lang"),
    [(EN_PARAPHRASE, "en"), (EN_OTHER, "en"), (ZH_OTHER, "zh-Hans")],
    ids=["same event in other words", "other story", "other Chinese story"],
)
def test_what_is_not_a_copy_is_not_matched(text: str, lang: str) -> None:
    index = NearDupIndex()
    index.add(1, sig(EN_ORIGINAL, "en"), T0)
    index.add(2, sig(ZH_ORIGINAL, "zh-Hans"), T0)
    assert index.query(sig(text, lang)) is None


def test_copies_of_copies_point_at_the_earliest() -> None:
    index = NearDupIndex()
    first = sig(EN_ORIGINAL, "en")
    assert index.register(10, first, T0) is None
    assert index.register(11, sig(EN_COPY, "en"), T0 + timedelta(hours=1)) == 10
    assert index.register(12, sig("Breaking\n" + EN_COPY, "en"), T0 + timedelta(hours=2)) == 10


def test_index_rebuilt_from_stored_bytes_answers_alike() -> None:
    stored = [(1, sig(EN_ORIGINAL, "en").to_bytes()), (2, sig(ZH_ORIGINAL, "zh-Hans").to_bytes())]
    index = NearDupIndex()
    for item_id, data in stored:
        index.add(item_id, Signature.from_bytes(data), T0)
    assert index.query(sig(ZH_REPRINT, "zh-Hant")) == 2
    assert index.query(sig(EN_COPY, "en")) == 1


def test_entries_older_than_the_window_are_evicted() -> None:
    index = NearDupIndex(window=timedelta(days=30))
    index.add(1, sig(EN_ORIGINAL, "en"), T0)
    index.add(2, sig(ZH_ORIGINAL, "zh-Hans"), T0 + timedelta(days=20))
    assert len(index) == 2 and index.query(sig(EN_COPY, "en")) == 1
    index.add(3, sig(EN_OTHER, "en"), T0 + timedelta(days=31))  # moves the window on
    assert len(index) == 2 and index.query(sig(EN_COPY, "en")) is None
    assert index.evict_before(T0 + timedelta(days=21)) == 1
    assert index.query(sig(ZH_REPRINT, "zh-Hant")) is None and len(index) == 1


def random_text(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choice(words) for _ in range(120))


def test_long_streams_stay_bounded_and_searchable() -> None:
    """Thousands of items through a short window: evicted slots are reused after compaction."""
    rng = random.Random(3)
    vocabulary = [f"w{i}" for i in range(5000)]
    index = NearDupIndex(window=timedelta(days=2))
    kept: list[tuple[int, Signature]] = []
    for n in range(2600):
        s = sig(random_text(rng, vocabulary), "en")
        assert index.register(n, s, T0 + timedelta(hours=n)) is None
        kept = [*kept[-50:], (n, s)]
    assert len(index) == 49  # 48 hours of items, the current hour included
    assert index.query(kept[-1][1]) == kept[-1][0]
    assert index.query(kept[0][1]) is None  # 50 hours old
    assert index._high <= 2 * 1024 + 50  # slots are reused, not grown without bound
