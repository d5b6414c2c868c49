"""`monitor claims import FILE`: a Markdown table of claims or an article's text becomes an
`[[article]]` of claims.toml that loads back as written; bad input is one line naming the file
and line, exit status 2, and leaves every file as it was."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.cli import main
from monitor.config import load_config, load_registry
from monitor.errors import InputError
from monitor.judge.importing import (
    article_id_from,
    claim_prefix,
    read_import,
    render_article,
    sentences,
    splice_article,
    states_fact,
    toml_string,
)
from monitor.judge.registry import Article, ClaimText
from tests.conftest import Workspace

SHARED = Path(__file__).resolve().parents[3] / "shared"
ARTICLE2 = SHARED / "corpus" / "article2"

TABLE = """# Claims of a test article

Some prose before the table, with a | pipe in it.

| id | claim (as the article states it) |
|---|---|
| T01 | The first claim, with "quotes" and a back\\slash. |
| `T02` | A claim with a \\| pipe inside. |
| T03 | 第三条：美国商务部于2024年10月更新了清单。 |

Prose after the table is ignored.
| not | a claim |
"""

ENGLISH = """The chip rulebook, revisited
Commentary, 15 June 2025

On 13 May the Commerce Department rescinded the AI Diffusion Rule. Start with the rulebook.
Taken together they show a conflict that is less about lists than about chokepoints.
The U.S. government said it would rely on deals. Nvidia wrote off US$5.5 billion in inventory.
Will the deals hold? Controls also leak.
"""

CHINESE = (
    "英伟达2024财年财报显示,中国区域营收占比超过20%,约合150亿美元。管制措施推高了整个行业的运营成本,"
    "合规审查、多套技术方案、供应链重构都需要额外投入。技术标准的分化也在加速,中国推出了自己的标准,"
    "与美国主导的MLPerf基准测试形成竞争。这些成本最终会转嫁给消费者,影响AI技术的普及速度。真有后门吗?\n"
)


def imported_ids(data: str | bytes, prefix: str = "A") -> list[str]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return [c.id for c in read_import(raw, "f.md", prefix).claims]


# --- the pure part ----------------------------------------------------------------------------


def test_a_table_gives_its_rows_and_ignores_the_prose_around_it() -> None:
    result = read_import(TABLE.encode(), "t.md", "A")
    assert [(c.id, c.text, c.quote) for c in result.claims] == [
        ("T01", 'The first claim, with "quotes" and a back\\slash.', None),
        ("T02", "A claim with a | pipe inside.", None),
        ("T03", "第三条：美国商务部于2024年10月更新了清单。", None),
    ]
    assert result.lines == (7, 8, 9) and result.kind == "table" and result.body is None


@pytest.mark.skipif(not (ARTICLE2 / "claims.md").exists(), reason="../shared/corpus/article2 is not here")
def test_the_second_articles_claims_file_reads_verbatim() -> None:
    text = (ARTICLE2 / "claims.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (A\d\d) \| (.+) \|$", text, re.M)
    claims = read_import(text.encode(), "claims.md", "A").claims
    assert [(c.id, c.text) for c in claims] == rows and len(rows) == 18


BAD_TABLES = [
    ("| C01 | one |\n|  | two |\n", 4, "the row has no claim id"),
    ("| C01 | one |\n| C02 |  |\n", 4, "claim C02 has no text"),
    ("| C01 | one |\n| C02 |\n", 4, "claim C02 has no text"),
    ("| C01 | one |\n| C01 | again |\n", 4, "duplicate claim id 'C01' (first on line 3)"),
    ("| C 1 | one |\n", 3, "'C 1' is not a claim id"),
    ("| C01 | one | two |\n", 3, "the row has 3 cells, the table 2"),
    ("\nprose\n", 1, "the claims table has no rows"),
]


@pytest.mark.parametrize(("rows", "line", "words"), BAD_TABLES, ids=[b[2][:20] for b in BAD_TABLES])
def test_a_bad_row_names_its_line(rows: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as caught:
        read_import(("| id | claim |\n|---|---|\n" + rows).encode(), "t.md", "A")
    assert str(caught.value).startswith(f"t.md:{line}: ") and words in str(caught.value)


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (b"", 1, "the file is empty"),
        (b"  \n\n", 1, "the file is empty"),
        (b"| id | claim |\n|---|---|\n| C01 | \xd2\xbb\xff |\n", 3, "not UTF-8 text"),
        (b"A heading\nAnother heading\nnot a sentence either\n", 1, "no sentence stating a fact"),
    ],
    ids=["empty", "blank", "not-utf8", "no-sentences"],
)
def test_unusable_files_name_the_file_and_line(data: bytes, line: int, words: str) -> None:
    with pytest.raises(InputError) as caught:
        read_import(data, "in.txt", "A")
    assert str(caught.value).startswith(f"in.txt:{line}: ") and words in str(caught.value)


def test_an_english_article_proposes_its_fact_sentences() -> None:
    result = read_import(ENGLISH.encode(), "a.txt", "A")
    assert [c.text for c in result.claims] == [
        "On 13 May the Commerce Department rescinded the AI Diffusion Rule.",
        "The U.S. government said it would rely on deals.",  # "U.S." ends no sentence
        "Nvidia wrote off US$5.5 billion in inventory.",
    ]
    assert [c.id for c in result.claims] == ["A01", "A02", "A03"] and result.lines == (4, 6, 6)
    assert all(c.quote == c.text for c in result.claims)
    assert (result.body, result.language, result.title) == (ENGLISH, "en", "The chip rulebook, revisited")


def test_a_chinese_article_proposes_its_fact_sentences() -> None:
    result = read_import(CHINESE.encode(), "a.txt", "chip-")
    assert [c.text for c in result.claims] == [
        "英伟达2024财年财报显示,中国区域营收占比超过20%,约合150亿美元。",
        "技术标准的分化也在加速,中国推出了自己的标准,与美国主导的MLPerf基准测试形成竞争。",
    ]
    assert [c.id for c in result.claims] == ["chip-01", "chip-02"]
    assert result.language == "zh" and result.title is None


@pytest.mark.parametrize(
    ("sentence", "fact"),
    [
        ("Nvidia shipped 500,000 chips last year.", True),
        ("Shipments started in May, analysts said.", True),  # a name inside the sentence
        ("TSMC stopped shipping to them.", True),  # an acronym
        ("The rule was scrapped before anyone complied.", False),
        ("AI is everywhere and it is here to stay.", False),  # two letters: too common
        ("Did the company ship 500 chips?", False),  # a question states nothing
        ("美国收紧了签证政策,试图阻止关键技术的外流。", False),
        ("腾讯、阿里等大厂开始将采购重心转向国产替代方案。", True),
        ("人民日报发表《H芯片解禁,怎么看》一文。", True),
        ("投资额同比增长百分之四十,资本涌入加速。", True),
    ],
)
def test_what_states_a_fact(sentence: str, fact: bool) -> None:
    assert states_fact(sentence) is fact


def test_sentences_keep_their_line_and_closing_quotes() -> None:
    text = "他说:“价格上涨了8%。”随后离开。\nHe said “prices rose 8%.” Then he left.\nA heading\n"
    assert list(sentences(text)) == [
        (1, "他说:“价格上涨了8%。”"),
        (1, "随后离开。"),
        (2, "He said “prices rose 8%.”"),
        (2, "Then he left."),
    ]


def test_ids_and_prefixes() -> None:
    assert article_id_from("chip-war.zh.txt") == "chip-war"
    assert article_id_from("claims.md", "article2") == "article2"
    assert article_id_from("article.en.txt", "article2") == "article2"
    assert article_id_from("我的 文章.txt") == "article"
    assert (claim_prefix(None), claim_prefix("B"), claim_prefix("article2")) == ("A", "B", "article2-")


@given(st.text())
def test_toml_strings_read_back_as_written(value: str) -> None:
    assert tomllib.loads(f"x = {toml_string(value)}")["x"] == value


def test_a_rendered_article_replaces_its_table_and_keeps_the_rest(tmp_path: Path) -> None:
    before = (
        '# header comment\n\n[[article]]\nid = "a"\n\n[[article.claim]]\nid = "C01"\ntext = "old"\n\n'
        '# about b\n[[article]]\nid = "b"\n\n[[article.claim]]\nid = "B01"\ntext = "kept"\n'
    )
    nasty = 'line one\nline two\t"quoted" \\ back\x07'
    article = Article(id="a", title="T", claim=(ClaimText(id="C01", text=nasty, quote="引文"),))
    after = splice_article(before, 0, render_article(article))
    assert after.startswith("# header comment\n\n[[article]]\n") and "# about b\n[[article]]" in after
    (tmp_path / "claims.toml").write_text(after, encoding="utf-8")
    registry = load_registry(tmp_path / "claims.toml")
    assert [(c.id, c.text, c.quote) for c in registry.claims] == [("C01", nasty, "引文"), ("B01", "kept", None)]
    appended = splice_article(before.rstrip("\n"), None, render_article(article.model_copy(update={"id": "c"})))
    assert appended.count("[[article]]") == 3 and appended.endswith('quote = "引文"\n')


# --- through the command line -----------------------------------------------------------------


@pytest.fixture
def shipped(workspace: Workspace) -> Workspace:
    workspace.sources({"id": "x", "url": "http://127.0.0.1/x", "kind": "feed"})
    workspace.ship_claims()
    return workspace


def config_state(config: Path) -> dict[str, str]:
    """Every file of the config directory, by content (temporary files included)."""
    return {
        str(p.relative_to(config)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(config.rglob("*"))
        if p.is_file()
    }


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_a_table_then_replace_it(shipped: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = shipped.root / "table.md"
    source.write_text(TABLE, encoding="utf-8")
    before = (shipped.config / "claims.toml").read_text(encoding="utf-8")
    code, out, _ = run(capsys, "claims", "import", str(source), "--article", "test-article")
    assert code == 0
    assert "3 claims added to article test-article (new) in config/claims.toml" in out
    assert "no published date" in out
    after = (shipped.config / "claims.toml").read_text(encoding="utf-8")
    assert after.startswith(before)  # the shipped file, its comments included, is kept as written
    registry = load_config(shipped.config, env={}).registry
    assert [a.id for a in registry.articles] == ["chip-war-2025", "test-article"]
    assert registry.claim("T02") is not None and registry.claim("T02").text == "A claim with a | pipe inside."  # type: ignore[union-attr]
    assert registry.claim("T01").text == 'The first claim, with "quotes" and a back\\slash.'  # type: ignore[union-attr]

    source.write_text("| id | claim |\n|---|---|\n| T09 | Only one now. |\n", encoding="utf-8")
    code, out, _ = run(capsys, "claims", "import", str(source), "--article", "test-article")
    assert code == 0 and "1 claims added to article test-article (replacing its 3 claims)" in out
    registry = load_config(shipped.config, env={}).registry
    assert [c.id for c in registry.claims][-2:] == ["C24", "T09"] and len(registry.articles) == 2
    assert run(capsys, "claims", "check")[1].endswith("2 articles, 25 claims, 1 warnings\n")


@pytest.mark.skipif(not (ARTICLE2 / "claims.md").exists(), reason="../shared/corpus/article2 is not here")
def test_import_the_second_articles_claims_with_config_after_the_command(
    shipped: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, _ = run(capsys, "claims", "import", str(ARTICLE2 / "claims.md"), "--config", str(shipped.config))
    assert code == 0 and "18 claims added to article article2 (new)" in out
    registry = load_registry(shipped.config / "claims.toml")
    assert [c.id for c in registry.claims if c.article_id == "article2"] == [f"A{n:02d}" for n in range(1, 19)]


def test_import_sets_the_articles_date_and_language(shipped: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    table = shipped.root / "claims.md"
    table.write_text("| id | claim |\n|---|---|\n| B01 | Nvidia wrote off $5.5 billion of H20 stock. |\n")
    code, out, _ = run(
        capsys, "claims", "import", str(table), "--article", "second", "--published", "2025-06-15", "--language", "en"
    )
    assert code == 0 and "no published date" not in out
    article = next(a for a in load_registry(shipped.config / "claims.toml").articles if a.id == "second")
    assert (article.published, article.language) == (dt.date(2025, 6, 15), "en")


def test_import_an_article_text_keeps_the_text_and_proposes_claims(
    shipped: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shipped.root / "rulebook.txt"
    source.write_text(ENGLISH, encoding="utf-8")
    code, out, _ = run(capsys, "claims", "import", str(source))
    assert code == 0 and "3 claims added to article rulebook (new)" in out
    assert f"article text: {Path('config/articles/rulebook.en.txt')}" in out
    assert (shipped.config / "articles" / "rulebook.en.txt").read_text(encoding="utf-8") == ENGLISH
    article = load_registry(shipped.config / "claims.toml").article("rulebook")
    assert article is not None and article.body == ENGLISH and article.language == "en"
    assert [c.id for c in article.claims] == ["A01", "A02", "A03"]
    assert article.claims[2].quote == "Nvidia wrote off US$5.5 billion in inventory."

    chinese = shipped.root / "chip.txt"
    chinese.write_text(CHINESE, encoding="utf-8")
    code, out, _ = run(capsys, "claims", "import", str(chinese), "--article", "B")
    assert code == 0 and "2 claims added to article B (new)" in out
    registry = load_registry(shipped.config / "claims.toml")
    assert [c.id for c in registry.claims if c.article_id == "B"] == ["B01", "B02"]
    assert registry.article("B").text == "articles/B.zh.txt"  # type: ignore[union-attr]


BROKEN = [
    ("rows.md", "| id | claim |\n|---|---|\n| C90 | fine |\n| | no id |\n", 4, "no claim id"),
    ("text.md", "| id | claim |\n|---|---|\n| C90 | |\n", 3, "has no text"),
    ("dupes.md", "| id | claim |\n|---|---|\n| C90 | a |\n| C90 | b |\n", 4, "duplicate claim id"),
    ("taken.md", "intro\n\n| id | claim |\n|---|---|\n| C90 | a |\n| C05 | b |\n", 6, "already a claim of article"),
    ("empty.md", "", 1, "the file is empty"),
    ("bytes.md", b"| id | claim |\n|---|---|\n| C90 | \xff\xfe |\n", 3, "not UTF-8"),
    ("nothing.txt", "Heading\nbyline\n", 1, "no sentence stating a fact"),
]


@pytest.mark.parametrize(("name", "content", "line", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_input_exits_2_naming_file_and_line_and_writes_nothing(
    shipped: Workspace, capsys: pytest.CaptureFixture[str], name: str, content: str | bytes, line: int, words: str
) -> None:
    source = shipped.root / name
    source.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    before = config_state(shipped.config)
    code, out, err = run(capsys, "claims", "import", str(source), "--article", "new-one")
    assert code == 2 and out == ""
    assert err.startswith(f"error: {source}:{line}: ") and words in err and err.count("\n") == 1, err
    assert config_state(shipped.config) == before


def test_a_bad_article_id_or_a_missing_file_exits_2(shipped: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = shipped.root / "t.md"
    source.write_text(TABLE, encoding="utf-8")
    before = config_state(shipped.config)
    code, _, err = run(capsys, "claims", "import", str(source), "--article", "no spaces")
    assert code == 2 and "--article 'no spaces' is not an article id" in err
    code, _, err = run(capsys, "claims", "import", str(shipped.root / "missing.md"))
    assert code == 2 and "missing.md: cannot read" in err
    assert config_state(shipped.config) == before


def test_claims_show_and_list_use_the_claim_text_and_quote(
    shipped: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "claims", "show", "C23")
    assert code == 0
    assert out.startswith("C23 · unchallenged · article chip-war-2025, 2025-07-22\n")
    assert "The US government approved export licences" in out and "美国政府已批准出口许可" in out
    code, out, _ = run(capsys, "claims", "--json")
    assert code == 0 and '"article_id": "chip-war-2025"' in out and '"quote": "' in out
