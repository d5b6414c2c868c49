"""The claim registry (claims.toml): articles and their claims as text, the article texts read
from files beside it, and one line naming the file and the line of the key for each mistake,
including keys inside the `[[article.claim]]` tables of a second article."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from monitor.config import load_registry
from monitor.errors import ConfigError
from monitor.judge.registry import Claim

ROOT = Path(__file__).resolve().parents[2]
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed"

TWO = """# two articles
[[article]]
id = "one"
title = "First"
published = "2025-07-22"
language = "zh"
text = "articles/one.txt"

[[article.claim]]
id = "C01"
text = "The first claim."
quote = "第一条。"

[[article.claim]]
id = "C02"
text = "The second claim."

[[article]]
id = "two"
published = 2025-06-15
language = "en"
url = "https://example.org/two"

[[article.claim]]
id = "A01"
text = "Another article's claim."

[[article.claim]]
id = "A02"   # the marker
text = "And one more."
"""


def line_of(text: str, fragment: str, nth: int = 0) -> int:
    """The 1-based line of the nth line holding `fragment`."""
    return [n for n, line in enumerate(text.splitlines(), 1) if fragment in line][nth]


def write(tmp_path: Path, text: str, body: str | bytes | None = "第一条。第二条。\n") -> Path:
    path = tmp_path / "claims.toml"
    path.write_text(text, encoding="utf-8")
    if body is not None:
        (tmp_path / "articles").mkdir(exist_ok=True)
        target = tmp_path / "articles" / "one.txt"
        target.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def test_a_good_file_gives_articles_claims_and_texts(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, TWO))
    one, two = registry.articles
    assert (one.id, one.title, one.published, one.language) == ("one", "First", dt.date(2025, 7, 22), "zh")
    assert one.body == "第一条。第二条。\n" and two.body is None and two.url == "https://example.org/two"
    assert two.published == dt.date(2025, 6, 15)  # a TOML date or a string
    assert [c.id for c in registry.claims] == ["C01", "C02", "A01", "A02"]
    assert registry.claim("C01") == Claim("C01", "The first claim.", "第一条。", "one", dt.date(2025, 7, 22), "zh")
    assert registry.claim("A02") == Claim("A02", "And one more.", None, "two", dt.date(2025, 6, 15), "en")
    assert registry.article("two") is two and registry.claim("Z9") is None


def test_a_missing_file_is_an_empty_registry(tmp_path: Path) -> None:
    assert load_registry(tmp_path / "claims.toml").claims == ()


# (what to change in TWO, the fragment on the line the error must name, its entry and key, words of the message)
MISTAKES = [
    (('title = "First"', 'titel = "First"'), ("titel", 0), "[one]", "titel:", "unknown key"),
    (('url = "https', 'link = "https'), ("link =", 0), "[two]", "link:", "unknown key"),
    (('language = "zh"', 'body = "x"'), ("body =", 0), "[one]", "body:", "unknown key"),
    (("# the marker", "\nsource = 'x'"), ("source =", 0), "[A02]", "source:", "unknown key"),
    (('text = "And one more."', ""), ("[[article.claim]]", 3), "[A02]", "text:", "required key is missing"),
    (('text = "And one more."', 'text = "  "'), ('text = "  "', 0), "[A02]", "text:", "blank"),
    (('id = "A02"', 'id = "C01"'), ('id = "C01"', 1), "[C01]", "id:", "already a claim of article 'one'"),
    (('id = "A02"', 'id = "A01"'), ('id = "A01"', 1), "[A01]", "id:", "already a claim of article 'two'"),
    (('id = "A02"', 'id = "A 02"'), ('id = "A 02"', 0), "[A 02]", "id:", "pattern"),
    (('id = "two"', 'id = "one"'), ('id = "one"', 1), "[one]", "id:", "duplicate article id"),
    (('"2025-07-22"', '"2025-06-31"'), ("2025-06-31", 0), "[one]", "published:", "'2025-06-31'"),
    (('"2025-07-22"', '"22 July 2025"'), ("22 July", 0), "[one]", "published:", "'22 July 2025'"),
    (('language = "en"', 'language = "fr"'), ('"fr"', 0), "[two]", "language:", "'fr'"),
    (('id = "two"\n', ""), ("[[article]]", 1), "[article #2]", "id:", "required key is missing"),
]


@pytest.mark.parametrize(("change", "at", "entry", "key", "words"), MISTAKES, ids=[m[2] + m[3] for m in MISTAKES])
def test_each_mistake_names_the_line_of_its_key(
    tmp_path: Path, change: tuple[str, str], at: tuple[str, int], entry: str, key: str, words: str
) -> None:
    """`at`: the fragment on the line the message must name (a key's line; a table's header when
    the key is missing), and which of the lines holding it."""
    text = TWO.replace(*change)
    with pytest.raises(ConfigError) as caught:
        load_registry(write(tmp_path, text))
    message = str(caught.value)
    assert f"claims.toml:{line_of(text, *at)}: " in message, message
    assert entry in message and key in message and words in message and "\n" not in message


def test_claim_lines_are_counted_across_articles_even_with_inline_claims(tmp_path: Path) -> None:
    """The second article's first claim table is the first `[[article.claim]]` of the file
    when the first article writes its claims inline."""
    text = (
        '[[article]]\nid = "one"\nclaim = [{ id = "C01", text = "x" }, { id = "C02", text = "y" }]\n\n'
        '[[article]]\nid = "two"\n\n[[article.claim]]\nid = "A01"\ntext = "z"\n\n'
        '[[article.claim]]\nid = "A02"\ntext = "w"\nstatment = "typo"\n'
    )
    with pytest.raises(ConfigError, match=rf"claims.toml:{line_of(text, 'statment')}: \[A02\] statment: unknown"):
        load_registry(write(tmp_path, text, body=None))
    inline_mistake = text.replace('text = "y"', 'text = "y", txt = "z"')
    with pytest.raises(ConfigError, match=r"claims.toml:3: \[C02\] txt: unknown key"):
        load_registry(write(tmp_path, inline_mistake, body=None))


def test_the_old_format_is_told_where_claims_go_now(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"claims.toml:2: claim: unknown top-level key.*\[\[article.claim\]\]"):
        load_registry(write(tmp_path, '# old\n[[claim]]\nid = "C01"\nstatement_en = "x"\n', body=None))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (None, "cannot be read: No such file or directory"),
        ("第一条。".encode("gb18030"), "is not UTF-8"),
        (" \n\n", "is empty"),
    ],
    ids=["missing", "not-utf8", "empty"],
)
def test_an_article_text_that_cannot_be_used_is_an_error_at_its_key(
    tmp_path: Path, body: bytes | str | None, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_registry(write(tmp_path, TWO, body=body))
    message = str(caught.value)
    assert f"claims.toml:{line_of(TWO, 'articles/one.txt')}: [one] text: the article text " in message
    assert str(tmp_path / "articles" / "one.txt") in message and words in message


def test_an_article_text_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, TWO.replace("articles/one.txt", "articles"))
    with pytest.raises(ConfigError, match=r"\[one\] text: the article text .*articles cannot be read"):
        load_registry(path)


def test_texts_not_written_yet_can_stand_in(tmp_path: Path) -> None:
    path = write(tmp_path, TWO, body=None)
    assert load_registry(path, bodies={"articles/one.txt": "新的。"}).articles[0].body == "新的。"


# --- the shipped registry ---------------------------------------------------------------------


def test_the_shipped_registry_is_the_seed_article_and_its_24_claims() -> None:
    registry = load_registry(ROOT / "config" / "claims.toml")
    [article] = registry.articles
    assert (article.id, article.language, article.published) == ("chip-war-2025", "zh", dt.date(2025, 7, 22))
    assert [c.id for c in registry.claims] == [f"C{n:02d}" for n in range(1, 25)]
    assert article.body is not None and "【1评论】" not in article.body and "美国请求中方" not in article.body
    for claim in registry.claims:  # every quote is the article's own words, verbatim
        assert claim.quote and claim.quote in article.body, claim.id


@pytest.mark.skipif(not (SEED / "claims.md").exists(), reason="the seed's claims.md is not beside the repository")
def test_the_shipped_claims_are_the_seed_claims_verbatim() -> None:
    rows = dict(re.findall(r"^\| (C\d\d) \| (.+) \|$", (SEED / "claims.md").read_text(encoding="utf-8"), re.M))
    registry = load_registry(ROOT / "config" / "claims.toml")
    assert {c.id: c.text for c in registry.claims} == rows
    seed_lines = (SEED / "article.zh.txt").read_text(encoding="utf-8").splitlines()
    assert registry.articles[0].body == seed_lines[0] + "\n"
