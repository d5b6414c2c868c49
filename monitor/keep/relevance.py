"""Is a news item about the monitored topic? A bilingual keyword rule that explains itself.

The topic (`[topic]` in monitor.toml) is a list of term groups, each of one kind:

- **strong** terms settle it alone ("export controls", "实体清单", "H20", "SMIC");
- **subject** terms say what an item is about (chips, Nvidia, HBM, rare earths);
- **context** terms give the angle (China, bans and curbs, smuggling, Beijing's countermeasures,
  the US Commerce Department).

An item is relevant when it names terms from at least `min_strong` strong groups, or from at
least `min_subject` subject groups together with at least `min_context` context groups. So
general chip news (a new GPU, a foundry's quarterly capacity) is *not* relevant by itself, nor
is general China news; chip news with a China or policy angle is. Phrases in `ignore` are
skipped before anything else ("blue-chip stocks" are not chips).

The watched claims widen it (`TopicMatcher(topic, claims)`): a claim gives the angle a context
term would. An item with its subject terms is also relevant when it names at least
`claim_terms_min` terms of one claim, one of them distinctive (see `monitor.keep.claim_terms`: a name
that few claims share), so news on what a claim says is kept where the topic's context terms
miss it ("Singapore adds charges in a server fraud case involving Nvidia chips"). The subject
stays the topic's to give: news that shares a place and an event with a claim but is about
something else (men charged in Singapore for smuggling tortoises through Malaysia) names no
subject term, and places are names as distinctive as any. A claim term that is also a subject
or strong term is found by its group's aliases in the other script too ("chips" by "芯片"):
context groups are left out, their aliases are whole families ("Alibaba" would be found by
"中国").

Matching is on the folded form of `monitor.text.normalize.fold_text` (traditional → simplified,
NFKC, case-folded), applied to the terms and to the text alike. A term edge that is a Latin
letter or digit must sit on a word boundary (so "ban" is not found in "bank"), and a plural
"s"/"es" is allowed after it; Chinese terms match as substrings. A space or hyphen inside a
term matches a space, a hyphen or nothing ("export-control", "升腾 910"). The terms compile into
two trie-shaped regular expressions, one for terms that start with a Latin letter or digit and one
for terms that start with a Chinese character, so an item costs two scans whatever the number of
terms.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.keep.claim_terms import ClaimTerms, derive_claim_terms
from monitor.text.normalize import fold_text
from monitor.text.terms import TermFinder, compile_terms, term_key

Kind = Literal["strong", "subject", "context"]
KINDS: tuple[Kind, ...] = ("strong", "subject", "context")

_MAX_TERMS_SHOWN = 8


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TermGroup(_Frozen):
    """One `[[topic.group]]` table: a named set of aliases for one concept, in any script."""

    name: str = Field(pattern=r"^[a-z0-9_]+$", max_length=64)
    kind: Kind
    terms: tuple[str, ...] = Field(min_length=1)

    @field_validator("terms")
    @classmethod
    def _not_blank(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        for term in terms:
            if not term_key(fold_text(term)):
                raise ValueError(f"blank term {term!r}")
        return terms


class Topic(_Frozen):
    """The `[topic]` table: what makes an item relevant (see the module docstring)."""

    model_config = ConfigDict(populate_by_name=True)

    min_strong: int = Field(default=1, ge=1, description="strong groups that suffice alone")
    min_subject: int = Field(default=1, ge=1, description="subject groups needed, with min_context")
    min_context: int = Field(default=1, ge=1, description="context groups needed, with min_subject")
    claim_terms_min: int = Field(
        default=3, ge=1, description="terms of one watched claim that make an item relevant, one of them distinctive"
    )
    ignore: tuple[str, ...] = Field(default=(), description="phrases skipped before matching")
    groups: tuple[TermGroup, ...] = Field(alias="group", min_length=1)

    @model_validator(mode="after")
    def _unambiguous(self) -> Topic:
        """Group names unique; a folded term belongs to one group (aliases inside a group may fold alike)."""
        owner: dict[str, str] = {term_key(fold_text(p)): "ignore" for p in self.ignore}
        names: set[str] = set()
        for group in self.groups:
            if group.name in names:
                raise ValueError(f"duplicate group name {group.name!r}")
            names.add(group.name)
            for term in group.terms:
                key = term_key(fold_text(term))
                if owner.setdefault(key, group.name) != group.name:
                    raise ValueError(f"term {term!r} of group {group.name!r} is also in {owner[key]!r}")
        return self


@dataclass(frozen=True, slots=True)
class Relevance:
    """The verdict on one item and its reason, e.g. "terms: export controls, Nvidia"."""

    relevant: bool
    why: str


@dataclass(frozen=True, slots=True)
class _Term:
    label: str  # the term as configured, for explanations
    group: str
    kind: Kind
    rank: int  # strong terms first, then subject, then context; in topic order within a kind


class TopicMatcher:
    """A topic compiled once: `judge` an item by two regex scans of its folded text, two more
    for the claims' terms when there are claims.

    `claims` are the watched claims as text (id → text, or texts), their terms derived here on
    first need (an item the topic alone finds too weak, or a worker to send them to): deriving
    loads a dictionary (about a second and 60 MB), which a run with nothing new never pays for.
    A worker process that rebuilds the matcher passes the derived `claim_terms` instead (plain
    values, see `monitor.pipeline.prepare`), which skips the derivation and its dictionary."""

    def __init__(
        self,
        topic: Topic,
        claims: Mapping[str, str] | Sequence[str] = (),
        *,
        claim_terms: Sequence[ClaimTerms] | None = None,
    ) -> None:
        self.topic = topic
        self._claim_texts = claims
        if claim_terms is not None:
            self.claim_terms = tuple(claim_terms)
        self._terms: dict[str, _Term | None] = {}  # folded key → term; None for an ignored phrase
        self._exact: dict[str, _Term | None] = {}  # the same by folded text: most matches are found here
        for phrase in topic.ignore:
            self._add(fold_text(phrase), None)
        by_kind = sorted(topic.groups, key=lambda g: KINDS.index(g.kind))
        for rank, (group, term) in enumerate((g, t) for g in by_kind for t in g.terms):
            self._add(fold_text(term), _Term(term, group.name, group.kind, rank))
        self._regexes = compile_terms(list(self._exact))

    @cached_property
    def claim_terms(self) -> tuple[ClaimTerms, ...]:
        return derive_claim_terms(self._claim_texts) if self._claim_texts else ()

    @cached_property
    def _claims(self) -> _ClaimIndex | None:
        return _ClaimIndex(self.claim_terms, self.topic, self._terms) if self.claim_terms else None

    def judge(self, title: str, text: str) -> Relevance:
        """Relevant or not, and why, for an item's title and text (its summary or its body)."""
        folded = fold_text(f"{title} | {text}")
        terms = self._find_terms(folded)
        verdict = self._explain(terms)
        if verdict.relevant:
            return verdict
        if len({t.group for t in terms if t.kind == "subject"}) < self.topic.min_subject:
            return verdict  # a claim's terms give the angle, never the subject: see the module docstring
        if self._claims is None:
            return verdict
        match = self._claims.match(folded)
        return verdict if match is None else Relevance(True, f"terms: {_show(terms)}; {match}")

    def _add(self, folded: str, term: _Term | None) -> None:
        """Aliases that fold alike are one term, shown as the first of them."""
        self._terms.setdefault(term_key(folded), term)
        self._exact.setdefault(folded, self._terms[term_key(folded)])

    def _find_terms(self, folded: str) -> list[_Term]:
        """The distinct terms found in folded text, by rank."""
        found: dict[int, _Term] = {}
        for regex in self._regexes:
            for match in regex.finditer(folded):
                term = self._lookup(match[0])
                if term is not None:
                    found[term.rank] = term
        return [found[rank] for rank in sorted(found)]

    def _lookup(self, matched: str) -> _Term | None:
        if matched in self._exact:
            return self._exact[matched]
        key = term_key(matched)
        for candidate in (key, key[:-1], key[:-2]):  # the term itself, or its plural in -s / -es
            if candidate in self._terms:
                return self._terms[candidate]
        raise AssertionError(f"matched {matched!r} is no term")  # the regexes match only terms

    def _explain(self, terms: list[_Term]) -> Relevance:
        if not terms:
            return Relevance(False, "no topic terms")
        groups: dict[Kind, set[str]] = {kind: set() for kind in KINDS}
        for term in terms:
            groups[term.kind].add(term.group)
        shown = _show(terms)
        topic = self.topic
        if len(groups["strong"]) >= topic.min_strong:
            return Relevance(True, f"terms: {shown}")
        needs: tuple[tuple[Kind, int], ...] = (("subject", topic.min_subject), ("context", topic.min_context))
        missing = [_needed(kind, count) for kind, count in needs if len(groups[kind]) < count]
        if missing:
            return Relevance(False, f"too weak: {shown} (needs {' and '.join(missing)})")
        return Relevance(True, f"terms: {shown}")


class _ClaimIndex:
    """The claims' terms compiled once: which claim an item names enough terms of."""

    def __init__(self, claims: tuple[ClaimTerms, ...], topic: Topic, topic_terms: dict[str, _Term | None]) -> None:
        self._claims = claims
        self._minimum = topic.claim_terms_min
        translations = _translations(topic)
        self._owners: dict[str, set[tuple[int, int]]] = {}  # form key → the (claim, term)s it finds
        spellings: dict[str, str] = {}  # form key → the form to look for
        for c, claim in enumerate(claims):
            owned: set[str] = set()
            for t, term in enumerate(claim.terms):
                for form in term.forms:
                    owned.add(self._own(form, c, t, spellings))
            for t, alias in _translated(claim, translations, topic_terms):
                if term_key(alias) not in owned:  # one word of an item counts for one term of a claim
                    owned.add(self._own(alias, c, t, spellings))
        ignored = [fold_text(p) for p in topic.ignore]
        self._ignored = frozenset(term_key(p) for p in ignored)
        self._finder = TermFinder([*ignored, *spellings.values()])

    def _own(self, form: str, claim: int, term: int, spellings: dict[str, str]) -> str:
        key = term_key(form)
        self._owners.setdefault(key, set()).add((claim, term))
        spellings[key] = _loosest(spellings.get(key), form)
        return key

    def match(self, folded: str) -> str | None:
        """ "claim C terms: a, b, c" for the claim whose terms the item names most of, if enough."""
        found: dict[int, set[int]] = {}
        ignored: set[tuple[int, int]] = set()
        for key, start, end in self._finder.find(folded):
            if key in self._ignored:
                ignored.add((start, end))  # "blue chip": the words inside it do not count
            elif (start, end) not in ignored:
                for claim, term in self._owners.get(key, ()):
                    found.setdefault(claim, set()).add(term)
        best, most = -1, self._minimum - 1
        for c, terms in found.items():
            if len(terms) > most and any(self._claims[c].terms[t].distinctive for t in terms):
                best, most = c, len(terms)
        if best < 0:
            return None
        named = self._claims[best]
        labels = [named.terms[t].label for t in sorted(found[best])]
        shown = labels[:_MAX_TERMS_SHOWN]
        more = f" and {len(labels) - len(shown)} more" if len(labels) > len(shown) else ""
        return f"claim {named.claim} terms: {', '.join(shown)}{more}"


def _translated(
    claim: ClaimTerms,
    translations: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
    topic_terms: dict[str, _Term | None],
) -> list[tuple[int, str]]:
    """(term, alias) for each of a claim's terms that is a subject or strong term in its own
    script (the claim's words, not a dictionary's translation of them): the group's terms in
    the other script."""
    found = []
    for t, term in enumerate(claim.terms):
        latin = _is_latin(fold_text(term.label))
        for form in term.forms:
            topic_term = topic_terms.get(term_key(form)) if _is_latin(form) == latin else None
            if topic_term is not None:
                found += [(t, alias) for alias in translations[topic_term.group][latin]]
    return found


def _translations(topic: Topic) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """For each subject or strong group, (its Latin terms, its Chinese terms), folded: indexed by
    "is the claim's term Latin", what it is also found by. The same script is not widened: a
    group's aliases there are other things ("TSMC" and "Intel")."""
    translations = {}
    for group in topic.groups:
        folded = [fold_text(t) for t in group.terms] if group.kind != "context" else []
        translations[group.name] = (
            tuple(t for t in folded if _is_latin(t)),
            tuple(t for t in folded if not _is_latin(t)),
        )
    return translations


def _is_latin(folded: str) -> bool:
    return folded[:1].isascii()


def _loosest(known: str | None, form: str) -> str:
    """Of two spellings of one term, the one with more separators: "super micro" also finds
    "super-micro" and "supermicro", "supermicro" finds only itself."""
    if known is None:
        return form
    return max(known, form, key=lambda f: (len(f) - len(term_key(f)), f))


def _show(terms: list[_Term]) -> str:
    labels = [t.label for t in terms[:_MAX_TERMS_SHOWN]]
    more = len(terms) - len(labels)
    return ", ".join(labels) + (f" and {more} more" if more else "")


def _needed(kind: Kind, count: int) -> str:
    return f"a {kind} term" if count == 1 else f"terms from {count} {kind} groups"
