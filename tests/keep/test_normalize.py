"""Normal forms: URLs, text, language and dates (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from monitor.text.normalize import (
    HAN,
    HAN_RUN,
    canonical_url,
    content_hash,
    detect_lang,
    fold_text,
    html_to_text,
    settle_date,
)

URLS = [
    ("HTTP://Example.COM:80/a/b?utm_source=x&b=2&a=1#frag", "http://example.com/a/b?a=1&b=2"),
    ("https://example.com:443/", "https://example.com/"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/p?fbclid=1&gclid=2&spm=a.b.c&id=9", "https://example.com/p?id=9"),
    ("https://example.com/p?UTM_Campaign=z&q=%E8%8A%AF%E7%89%87", "https://example.com/p?q=%E8%8A%AF%E7%89%87"),
    ("https://example.com/新闻/芯片", "https://example.com/%E6%96%B0%E9%97%BB/%E8%8A%AF%E7%89%87"),
    ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),
    ("https://例子.测试/x", "https://xn--fsqu00a.xn--0zwm56d/x"),
    ("javascript:alert(1)", None),
    ("mailto:a@b.c", None),
    ("", None),
    ("http://", None),
    ("http://[::1]:80/x", "http://[::1]/x"),
    ("http://host:99999/", None),
    ("http://h.test/?id=\x85", "http://h.test/?id=%C2%85"),  # U+0085 is Unicode space, not ASCII: kept
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_canonical_url(url: str, expected: str | None) -> None:
    assert canonical_url(url) == expected


@given(st.text())
def test_canonical_url_is_idempotent_and_total(url: str) -> None:
    once = canonical_url(url)
    if once is not None:
        assert canonical_url(once) == once


@given(st.text())
def test_fold_text_is_idempotent_and_total(text: str) -> None:
    once = fold_text(text)
    assert fold_text(once) == once


_ODD = "aZ Ｈ２ 輝達\t\n\r\x0b\x0c\x1c\x1d\x85\xa0\u2028\u3000\u200bﬁ①"  # white space of every kind, widths, scripts


# characters as `st.text()` draws them: no lone surrogate (decoded text has none; OpenCC, old fold or new, raises)
@given(st.text(alphabet=st.sampled_from(list(_ODD)) | st.characters(exclude_categories=["Cs"])))
@example("𧭈")  # a Han character of the supplementary plane alone: converted (U+2B37E)
def test_fold_text_is_the_plain_definition(text: str) -> None:
    """The fast path (a normalisation quick check, `split`) folds as the definition does."""
    import re
    import unicodedata

    from monitor.text.normalize import to_simplified

    plain = unicodedata.normalize("NFKC", text)
    plain = to_simplified(plain) if HAN.search(plain) else plain  # any Han character, either plane
    assert fold_text(text) == re.sub(r"\s+", " ", plain.casefold()).strip()


def test_fold_text_unifies_scripts_width_and_case() -> None:
    assert fold_text("輝達　Ｈ２０　出口管制") == fold_text("辉达 h20 出口管制")
    assert fold_text("２８０亿元") == "280亿元"
    assert fold_text("  Nvidia\n\tH200 ") == "nvidia h200"


def test_html_to_text() -> None:
    assert html_to_text("<p>BIS <b>adds</b> entities&nbsp;&amp; rules</p>\n<script>x</script>").startswith(
        "BIS adds entities & rules"
    )
    assert html_to_text("plain\x00text\x07 here") == "plain text here"
    assert html_to_text(None) == ""


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("Nvidia resumes H20 sales to China", None, "en"),
        ("英伟达恢复向中国销售H20芯片", None, "zh-Hans"),
        ("輝達恢復對華銷售H20晶片，美國政府批准出口許可", None, "zh-Hant"),
        ("H20", "zh-TW", "zh-Hant"),
        ("H20", "zh-CN", "zh-Hans"),
        ("Nvidia (英伟达) resumes H20 sales to China after the US approved licences", None, "en"),
    ],
)
def test_detect_lang(text: str, hint: str | None, expected: str) -> None:
    assert detect_lang(text, hint) == expected


def test_content_hash_ignores_script_and_spacing_but_not_words() -> None:
    body = "英伟达恢复向中国销售H20芯片，美国政府已批准出口许可证。" * 3
    assert content_hash("a", body) == content_hash("b", " " + body + " ")
    assert content_hash("t", "short") != content_hash("u", "short")
    assert content_hash("a", body) != content_hash("a", body.replace("批准", "拒绝"))


def test_settle_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    tolerance = timedelta(hours=1)
    assert settle_date(None, now, tolerance) == (now, "missing: time fetched used")
    past = datetime(2025, 7, 15, 2, tzinfo=UTC)
    assert settle_date(past, now, tolerance) == (past, None)
    naive = datetime(2025, 7, 15, 2)  # noqa: DTZ001 - a naive date is the case under test
    assert settle_date(naive, now, tolerance)[0] == past
    future = now + timedelta(days=400)
    when, note = settle_date(future, now, tolerance)
    assert when == now and note is not None and "clamped" in note
    assert settle_date(now + timedelta(minutes=30), now, tolerance)[1] is None


def test_white_space_ending_a_component_is_dropped_as_at_the_end_of_the_link() -> None:
    # found by the property test: "?id= " lost its space, "?id= #x" kept it as %20
    same = {
        canonical_url(u)
        for u in (
            "http://例子.测试?id= ",
            "http://例子.测试?id= #x",
            "http://例子.测试?id= &utm_medium=x",
            "http://例子.测试/?id=",
        )
    }
    assert same == {"http://xn--fsqu00a.xn--0zwm56d/?id="}
    assert canonical_url("http://a.com/x #top") == canonical_url("http://a.com/x ") == "http://a.com/x"
    assert canonical_url("http://a.com/?q=a%20b") == "http://a.com/?q=a%20b"  # a space inside stays


def test_a_han_character_is_one_thing_everywhere() -> None:
    """One definition of a Han character (monitor.text.normalize.HAN): the basic block, extension
    A, compatibility ideographs and the supplementary plane (a rare name's character, 𠮷) are
    Han; kana, hangul, full-width Latin and the hexagram symbols beside the basic block are not."""
    han = "中國㐀豈𠮷"
    assert HAN.findall(f"{han} かな 한글 ＡＢＣ ䷀ abc") == list(han)
    assert HAN_RUN.findall("美国商务部 and 𠮷野家") == ["美国商务部", "𠮷野家"]
    assert detect_lang("𠮷野家的牛丼，美國商務部") != "en"
