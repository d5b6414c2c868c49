"""`monitor claims import FILE`: turn what a reader has into an `[[article]]` of the registry.

FILE is either a Markdown table of claims (`| id | claim |`: a header row, a separator row,
then one row per claim; prose around it is ignored), or the article itself, whose sentences that
state a fact (a number, a date, a name) are proposed as claims, each with the sentence as its
text and its quote, for the reader to prune. The result is rendered as TOML and put in place of
the article of the same id in claims.toml, or after the last one.

A proposal is a guess from the shape of a sentence, not a judgement: no list of terms, no model.
Pure: bytes and text in, claims and text out. No I/O; the CLI reads, validates and writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from monitor.errors import InputError
from monitor.judge.registry import ARTICLE_ID, CLAIM_ID, Article, ClaimText, Registry
from monitor.text.normalize import HAN, HAN_CLASS

_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
# Where a sentence ends: Chinese full stops anywhere; Latin ones before a space, the end of the
# line or Chinese text. Closing quotes and brackets stay with their sentence.
_END = re.compile(rf"(?:[。！？]+|[.!?]+(?=[\"'”’)\]]*(?:\s|$|[{HAN_CLASS}])))[\"'”’」』）)\]]*")
# A period after these is an abbreviation's, not a sentence's (a single letter: U.S., J. Smith).
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "inc", "corp", "co", "ltd", "no", "nos", "vs", "etc"),
        *("approx", "est", "dept", "gov", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct"),
        *("nov", "dec"),
    }
)
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’.-]*[A-Za-z]|[A-Za-z]")
_FACT_MARKS = re.compile(
    r"[0-9０-９]"  # a number, a year, a percentage, a date
    r"|[一二两三四五六七八九十百千]+[万亿]|百分之"  # 三千亿, 百分之四十
    r"|(?<![A-Za-z])[A-Z][A-Z&-]*[A-Z]{2}(?![A-Za-z])"  # an acronym of 3+ letters: HBM, TSMC (AI, US: too common)
    r"|(?<![A-Za-z])(?:[A-Z]\.){2,}"  # U.S., U.K.
    rf"|《[^》]+》|[{HAN_CLASS}A-Za-z]{{2,8}}、[{HAN_CLASS}A-Za-z]{{2,8}}等"  # titles; 腾讯、阿里等 (named examples)
)
_GENERIC_NAMES = frozenset({"claims", "article", "text", "index", "readme", "body", "content"})
MIN_LATIN_WORDS, MIN_CJK_CHARS = 4, 8


@dataclass(frozen=True, slots=True)
class Imported:
    """What a file gives: claims (with the line each came from), and the article's text, its
    language and title when the file was the article itself."""

    claims: tuple[ClaimText, ...]
    lines: tuple[int, ...]  # the line of each claim in the file
    body: str | None = None
    language: str | None = None
    title: str | None = None

    @property
    def kind(self) -> str:
        return "article" if self.body is not None else "table"


def read_import(data: bytes, name: str, prefix: str) -> Imported:
    """The claims of a file: its Markdown claims table if it has one, else the proposed fact
    sentences of the article it is (ids `prefix` + 01, 02…). `name` is for messages."""
    text = decode(data, name)
    lines = text.splitlines()
    header = find_claims_table(lines)
    if header is not None:
        return table_claims(lines, header, name)
    return propose_claims(text, name, prefix)


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark dropped, line ends made `\\n`); anything else is an error at
    the line of the first bad byte, since guessing an encoding would put wrong text in claims."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(name, f"not UTF-8 text ({e.reason} at byte {e.start})", line=line) from e
    if not text.strip():
        raise InputError(name, "the file is empty", line=1)
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- a Markdown table of claims --------------------------------------------------------------


def find_claims_table(lines: Sequence[str]) -> int | None:
    """The index of the header row of the first table whose columns start with `id` and
    `claim` (or `text`), else None."""
    for n in range(len(lines) - 1):
        if lines[n].lstrip().startswith("|") and _SEPARATOR.match(lines[n + 1]):
            cells = [c.lower() for c in split_cells(lines[n])]
            if len(cells) >= 2 and cells[0] == "id" and cells[1].startswith(("claim", "text")):
                return n
    return None


def split_cells(row: str) -> list[str]:
    """A table row's cells, stripped; `\\|` is a pipe inside a cell."""
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(inner)]


def table_claims(lines: Sequence[str], header: int, name: str) -> Imported:
    """One claim per row after the header and separator, up to the first line that is not a row."""
    width = len(split_cells(lines[header]))
    claims: list[ClaimText] = []
    numbers: list[int] = []
    first: dict[str, int] = {}
    for index in range(header + 2, len(lines)):
        if not lines[index].lstrip().startswith("|"):
            break
        number = index + 1
        claim = _row_claim(split_cells(lines[index]), width, name, number)
        if claim.id in first:
            raise InputError(name, f"duplicate claim id {claim.id!r} (first on line {first[claim.id]})", line=number)
        first[claim.id] = number
        claims.append(claim)
        numbers.append(number)
    if not claims:
        raise InputError(name, "the claims table has no rows", line=header + 1)
    return Imported(tuple(claims), tuple(numbers))


def _row_claim(cells: list[str], width: int, name: str, number: int) -> ClaimText:
    if len(cells) > width:
        message = f"the row has {len(cells)} cells, the table {width} (write a | inside a claim as \\|)"
        raise InputError(name, message, line=number)
    claim_id = cells[0].strip("`*") if cells else ""
    text = cells[1] if len(cells) > 1 else ""
    if not claim_id:
        raise InputError(name, "the row has no claim id", line=number)
    if not re.match(CLAIM_ID, claim_id):
        message = f"{claim_id!r} is not a claim id (letters, digits, '_', '.', '-'; at most 32)"
        raise InputError(name, message, line=number)
    if not text.strip():
        raise InputError(name, f"claim {claim_id} has no text", line=number)
    return ClaimText(id=claim_id, text=text)


# --- an article's text ------------------------------------------------------------------------


def propose_claims(text: str, name: str, prefix: str) -> Imported:
    """The article's sentences that state a fact, as claims `prefix`01, 02…, each its own quote."""
    found = [(line, s) for line, s in sentences(text) if states_fact(s)]
    if not found:
        lines = len(text.splitlines())
        message = f"no claims table (| id | claim |), and in its {lines} lines no sentence stating a fact"
        raise InputError(name, message + " (a number, a date, a name)", line=1)
    width = max(2, len(str(len(found))))
    claims = tuple(ClaimText(id=f"{prefix}{n:0{width}d}", text=s, quote=s) for n, (_, s) in enumerate(found, 1))
    body = text if text.endswith("\n") else text + "\n"
    return Imported(claims, tuple(line for line, _ in found), body, guess_language(text), guess_title(text))


def sentences(text: str) -> Iterator[tuple[int, str]]:
    """(line, sentence) for each complete sentence: one that ends with a full stop, a question
    or an exclamation mark. A line without one (a heading, a byline, a list of sources) is none."""
    for number, line in enumerate(text.split("\n"), 1):
        start = 0
        for m in _END.finditer(line):
            if m[0].startswith(".") and _abbreviation(line, m.start(), m.end()):
                continue
            sentence = line[start : m.end()].strip()
            start = m.end()
            if sentence:
                yield number, sentence


def _abbreviation(line: str, dot: int, after: int) -> bool:
    """Whether the period at `dot` closes an abbreviation: a single letter (U.S.), a known short
    form (Inc., Oct.), or a word continuing in lower case after it."""
    word = re.search(r"([A-Za-z]+)$", line[:dot])
    if word and (len(word[1]) == 1 or word[1].lower() in _ABBREVIATIONS):
        return True
    rest = line[after:].lstrip()
    return bool(rest) and rest[0].islower()


def states_fact(sentence: str) -> bool:
    """A sentence that states something checkable: long enough, not a question or an
    exclamation, with a number, a date, an acronym or model name, a titled work, or a
    capitalised name not opening the sentence."""
    if sentence.rstrip("\"'”’」』）)] ").endswith(("?", "？", "!", "！")):
        return False
    cjk = len(HAN.findall(sentence))
    words = _LATIN_WORD.findall(sentence)
    if cjk < MIN_CJK_CHARS and len(words) < MIN_LATIN_WORDS:
        return False
    if _FACT_MARKS.search(sentence):
        return True
    inner = words[1:] if sentence.lstrip("\"'“‘(").startswith(words[0] if words else "\0") else words
    return any(w[0].isupper() and len(w) >= 2 and not w.isupper() for w in inner)


def guess_language(text: str) -> str:
    """`zh` when Chinese characters make up a good part of the letters, else `en`."""
    cjk = len(HAN.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if cjk * 3 >= latin else "en"


def guess_title(text: str) -> str | None:
    """The first line, when it is a heading (short, not a sentence)."""
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return first if first and len(first) <= 200 and not any(True for _ in sentences(first)) else None


# --- ids --------------------------------------------------------------------------------------


def article_id_from(file_name: str, parent: str = "") -> str:
    """An article id from a file's name (`chip-war.zh.txt` → `chip-war`); a generic name
    (`claims.md`, `article.en.txt`) takes its folder's name instead."""
    stem = file_name.split(".")[0]
    if stem.lower() in _GENERIC_NAMES and parent:
        stem = parent
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-_.")[:64]
    return slug if slug and re.match(ARTICLE_ID, slug) else "article"


def claim_prefix(article_id: str | None) -> str:
    """The prefix of proposed claim ids: `A` by default, else the article's id (`B` → B01,
    `chip-war` → chip-war-01), short enough for a claim id."""
    if article_id is None:
        return "A"
    if len(article_id) <= 3 and article_id.isalpha():
        return article_id
    return article_id[:28] + "-"


def check_collisions(imported: Imported, registry: Registry, article_id: str, name: str) -> None:
    """A claim id of another article is an error at the line of the claim that reuses it: flags
    name a claim by its id alone."""
    owners = {c.id: c.article_id for c in registry.claims if c.article_id != article_id}
    for claim, line in zip(imported.claims, imported.lines, strict=True):
        if claim.id in owners:
            message = f"claim id {claim.id!r} is already a claim of article {owners[claim.id]!r}"
            hint = " (choose another prefix with --article)" if imported.kind == "article" else ""
            raise InputError(name, message + hint, line=line)


def merge_article(existing: Article | None, imported: Imported, article_id: str) -> Article:
    """The article as it will be: the imported claims; from an article's text also its text
    file (`articles/ID.LANG.txt`), language and title; anything else (published, url…) kept
    from the article it replaces."""
    base = existing or Article(id=article_id)
    update: dict[str, object] = {"claims": imported.claims}
    if imported.body is not None:
        text_path = f"articles/{article_id}.{imported.language}.txt"
        update |= {"text": text_path, "body": imported.body, "language": imported.language}
        if imported.title:
            update["title"] = imported.title
    return base.model_copy(update=update)


# --- TOML ------------------------------------------------------------------------------------

_ARTICLE_HEADER = re.compile(r"^\s*\[\[\s*article\s*\]\]")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest as is."""
    return '"' + "".join(_ESCAPES.get(ch) or _control(ch) for ch in value) + '"'


def _control(ch: str) -> str:
    return f"\\u{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch


def render_article(article: Article) -> str:
    """One `[[article]]` with its `[[article.claim]]` tables, as claims.toml holds them."""
    out = ["[[article]]", f"id = {toml_string(article.id)}"]
    for key in ("title", "published", "language", "text", "url"):
        value = getattr(article, key)
        if value is not None:
            out.append(f"{key} = {toml_string(str(value))}")
    for claim in article.claims:
        out += ["", "[[article.claim]]", f"id = {toml_string(claim.id)}", f"text = {toml_string(claim.text)}"]
        if claim.quote is not None:
            out.append(f"quote = {toml_string(claim.quote)}")
    return "\n".join(out) + "\n"


def article_headers(toml_text: str) -> list[int]:
    """The indices of the lines that open an `[[article]]` table."""
    return [n for n, line in enumerate(toml_text.splitlines()) if _ARTICLE_HEADER.match(line)]


def splice_article(toml_text: str, position: int | None, rendered: str) -> str:
    """claims.toml with the `position`-th `[[article]]` table replaced by `rendered`, or with it
    appended (position None). The comments and blank lines before the next article stay its own."""
    lines = toml_text.splitlines(keepends=True)
    if position is None:
        head = "".join(lines)
        if head and not head.endswith("\n"):
            head += "\n"
        return head + ("\n" if head.strip() else "") + rendered
    headers = article_headers(toml_text)
    start = headers[position]
    end = headers[position + 1] if position + 1 < len(headers) else len(lines)
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return "".join(lines[:start]) + rendered + "".join(lines[end:])
