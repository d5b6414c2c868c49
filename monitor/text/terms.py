"""Finding many terms at once in folded text: a trie-shaped regex, Latin terms on word edges.

A term edge that is a Latin letter or digit must sit on a word boundary (so "ban" is not found
in "bank"), and a plural "s"/"es" may follow; Chinese terms match as substrings. A space or hyphen
inside a term matches a space, a hyphen or nothing. Shared by topic relevance and claim matching.
Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

_SEP_CHARS = " \t-\u2010\u2011\u2012\u2013"
_SEP_PATTERN = r"[\s\-\u2010\u2011\u2012\u2013]?"
_SEP = re.compile(r"[\s\-\u2010\u2011\u2012\u2013]+")
_WORD_CLASS = "[0-9a-z_]"
_PLURAL_AND_BOUNDARY = f"(?:e?s)?(?!{_WORD_CLASS})"


def term_key(folded: str) -> str:
    """A term's identity: folded, without its separators (so "export-control" is "export control")."""
    return _SEP.sub("", folded)


# --- compiling the terms: one regex for the terms that start with a Latin letter or digit, one for the rest

_Trie = dict[str, "_Trie"]
_END = ""  # key of a trie node's end-of-term mark; never a unit, units are one character or _SEP_UNIT
_SEP_UNIT = " "


def compile_terms(folded_terms: list[str]) -> tuple[re.Pattern[str], ...]:
    """Two trie-shaped regexes. The Latin one is tried only at word starts (an ASCII `\\b`); the
    other starts with a literal Chinese character, which lets `re` skip to where a term may start."""
    latin = [t for t in folded_terms if _is_word(t.lstrip(_SEP_CHARS)[:1])]
    han = [t for t in folded_terms if not _is_word(t.lstrip(_SEP_CHARS)[:1])]
    patterns = ([r"(?a:\b)" + _trie_pattern(latin)] if latin else []) + ([_trie_pattern(han)] if han else [])
    return tuple(re.compile(p) for p in patterns)


def _units(folded: str) -> Iterator[str]:
    """A folded term as trie units: characters, and one separator unit wherever a space or hyphen
    stands or a Latin letter or digit meets a Chinese character (so "升腾910" also matches "升腾 910")."""
    previous = ""
    for char in folded:
        if char in _SEP_CHARS:
            if previous and previous != _SEP_UNIT:
                previous = _SEP_UNIT
                yield _SEP_UNIT
            continue
        if previous.isalnum() and char.isalnum() and _is_word(previous) != _is_word(char):
            yield _SEP_UNIT
        previous = char
        yield char


def _is_word(char: str) -> bool:
    """Latin letters, digits and the underscore: the characters of a word for `\\b` in ASCII mode."""
    return char != "" and char.isascii() and (char.isalnum() or char == "_")


def _trie_pattern(folded_terms: list[str]) -> str:
    trie: _Trie = {}
    for term in folded_terms:
        node = trie
        for unit in _units(term):
            node = node.setdefault(unit, {})
        node[_END] = {}
    return _node_pattern(trie, "")


def _node_pattern(node: _Trie, last: str) -> str:
    """The regex for a trie node: its children as alternatives (longer terms first), then its end,
    where a term that ends in a Latin letter or digit may take a plural and must end a word."""
    alternatives = [_unit_pattern(unit) + _node_pattern(node[unit], unit) for unit in sorted(node) if unit != _END]
    if _END in node:
        alternatives.append(_PLURAL_AND_BOUNDARY if _is_word(last) else "")
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


def _unit_pattern(unit: str) -> str:
    return _SEP_PATTERN if unit == _SEP_UNIT else re.escape(unit)


class TermFinder:
    """Terms compiled once; `find` yields the key of each term found in folded text, with its span.

    The regex takes the longest term at each place, so a term inside a longer one ("云" in
    "云端", "ban" in "China bans") is reported with it: each key carries the keys it contains
    (Chinese: any substring; Latin: whole words)."""

    def __init__(self, folded_terms: Iterable[str]) -> None:
        self._keys = {term_key(t): t for t in folded_terms if term_key(t)}
        self._exact = {t: term_key(t) for t in self._keys.values()}
        self._regexes = compile_terms(list(self._exact))
        self._inside = {key: _contained(term, self._keys) for key, term in self._keys.items()}

    def find(self, folded: str) -> Iterator[tuple[str, int, int]]:
        for regex in self._regexes:
            for match in regex.finditer(folded):
                key = self.key_of(match[0])
                if key is not None:
                    yield key, match.start(), match.end()
                    for inner in self._inside[key]:
                        yield inner, match.start(), match.end()

    def key_of(self, matched: str) -> str | None:
        if matched in self._exact:
            return self._exact[matched]
        key = term_key(matched)
        for candidate in (key, key[:-1], key[:-2]):  # the term itself, or its plural in -s / -es
            if candidate in self._keys:
                return candidate
        return None


_WORDS = re.compile(r"[0-9a-z_]+|[^\x00-\x7f]")


def _contained(term: str, keys: dict[str, str]) -> frozenset[str]:
    """Keys of the other terms inside `term`: runs of its words (a Chinese character is a word)."""
    words = _WORDS.findall(term)
    inside = set()
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + 12) + 1):
            key = "".join(words[start:end])
            for candidate in (key, key[:-1] if key.endswith("s") else "", key[:-2] if key.endswith("es") else ""):
                if candidate and candidate in keys:
                    inside.add(candidate)
    inside.discard(term_key(term))
    return frozenset(inside)
