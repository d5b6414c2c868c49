"""What a digest says about a period, in the order a reader wants it:

1. claim changes: the period's flags (dismissed ones left out) grouped by claim, claims with a
   contradiction or an update first, one entry per story and claim, with its evidence;
2. top stories: one entry per story (items sharing a `story_id`; an item without one is its
   own story), ranked by the number of outlets carrying it, then by recency;
3. other relevant items: the stories past the top ones, briefly;
4. source health: the failing sources and their last success.

Only relevant original items appear: off-topic items and copies never do (a copy adds its
outlet to its original's entry). Pure: takes stored records, returns a `Digest`. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.judge import Claim
from monitor.records import SourceState, StoredFlag, StoredItem, titles_by_language

RELATION_ORDER = {"contradicts": 0, "updates": 1, "supports": 2}
MAX_MENTIONS = 8


@dataclass(frozen=True, slots=True)
class Mention:
    """Another outlet carrying a story: its name, and its own report's title and link if any."""

    outlet: str
    url: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimEntry:
    """One story's bearing on a claim: the strongest flag of the story, and who else carries it."""

    flag_id: int
    relation: str
    score: float
    evidence: str
    state: str
    item: StoredItem
    outlet: str
    also: tuple[Mention, ...]
    check: str | None = None  # what the verifier said (None: no verifier)


@dataclass(frozen=True, slots=True)
class ClaimChange:
    """A claim the period's news bore on: its text, the article's own words for it (`quote`, in
    `quote_lang`), where it stands now, and one entry per story."""

    claim_id: str
    text: str | None
    quote: str | None
    quote_lang: str | None
    status: str  # the claim's standing now, from all its flags (monitor.judge.standing)
    relations: tuple[str, ...]  # the relations raised in the period, strongest first
    entries: tuple[ClaimEntry, ...]
    in_registry: bool = True


@dataclass(frozen=True, slots=True)
class StoryEntry:
    """A story of the period: its lead item, the other outlets, the claims it bears on."""

    item: StoredItem
    outlet: str
    also: tuple[Mention, ...]
    outlets: int
    items: int
    latest_at: datetime
    claims: tuple[str, ...] = ()
    other_titles: tuple[
        tuple[str, str], ...
    ] = ()  # (language, title): its headline in the other languages reporting it


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    consecutive_errors: int
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


@dataclass(frozen=True, slots=True)
class Digest:
    title: str
    start: datetime
    end: datetime
    claim_changes: tuple[ClaimChange, ...] = ()
    top_stories: tuple[StoryEntry, ...] = ()
    other_stories: tuple[StoryEntry, ...] = ()
    omitted: int = 0  # other stories not listed
    failing: tuple[SourceHealth, ...] = ()
    item_count: int = 0  # relevant original items of the period

    @property
    def story_count(self) -> int:
        return len(self.top_stories) + len(self.other_stories) + self.omitted

    @property
    def change_count(self) -> int:
        return sum(len(c.entries) for c in self.claim_changes)

    @property
    def empty(self) -> bool:
        return not self.claim_changes and not self.item_count


@dataclass(frozen=True, slots=True)
class DigestInput:
    """What the store holds for a period, gathered by the caller."""

    items: Sequence[StoredItem]  # fetched in the period
    copies: Mapping[int, Sequence[StoredItem]]  # item id -> its copies
    flags: Sequence[StoredFlag]  # raised in the period (others are ignored)
    claims: Sequence[Claim]
    statuses: Mapping[str, str]  # claim id -> standing now
    sources: Sequence[SourceState]  # the sources whose health is reported
    names: Mapping[str, str] = field(default_factory=dict)  # source id -> name, beyond `sources`


def build_digest(
    title: str, start: datetime, end: datetime, data: DigestInput, *, top: int = 10, others: int = 50
) -> Digest:
    """The digest of [start, end): claim changes, stories, source health."""
    names = {**data.names, **{s.id: s.name or s.id for s in data.sources if s.name}}
    flags = [f for f in data.flags if start <= f.created_at < end and f.state != "dismissed" and _shown(f.item)]
    items = [i for i in data.items if _shown(i)]
    stories = rank_stories(items, data.copies, flags, names)
    return Digest(
        title=title,
        start=start,
        end=end,
        claim_changes=tuple(claim_changes(flags, data.claims, data.statuses, names)),
        top_stories=tuple(stories[:top]),
        other_stories=tuple(stories[top : top + others]),
        omitted=max(0, len(stories) - top - others),
        failing=tuple(source_health(data.sources)),
        item_count=len(items),
    )


def _shown(item: StoredItem) -> bool:
    return item.relevant and item.duplicate_of is None


def story_key(item: StoredItem) -> tuple[int, int]:
    """Items with a story id share it; an item without one is a story of its own."""
    return (0, item.story_id) if item.story_id is not None else (1, item.id)


def claim_changes(
    flags: Sequence[StoredFlag], claims: Sequence[Claim], statuses: Mapping[str, str], names: Mapping[str, str]
) -> list[ClaimChange]:
    """The flags grouped by claim; contradicted claims first, then updated ones, then registry order."""
    specs = {c.id: c for c in claims}
    order = {c.id: n for n, c in enumerate(claims)}
    by_claim: dict[str, list[StoredFlag]] = {}
    for flag in flags:
        by_claim.setdefault(flag.claim_id, []).append(flag)
    changes = []
    for claim_id, group in by_claim.items():
        entries = sorted(
            (claim_entry(story, names) for story in _by_story(group)),
            key=lambda e: (RELATION_ORDER.get(e.relation, 9), -e.item.published_at.timestamp(), e.flag_id),
        )
        relations = tuple(sorted({e.relation for e in entries}, key=lambda r: RELATION_ORDER.get(r, 9)))
        spec = specs.get(claim_id)
        changes.append(
            ClaimChange(
                claim_id=claim_id,
                text=spec.text if spec else None,
                quote=spec.quote if spec else None,
                quote_lang=html_lang(spec.article_language) if spec else None,
                status=statuses.get(claim_id, "unchallenged"),
                relations=relations,
                entries=tuple(entries),
                in_registry=spec is not None,
            )
        )
    changes.sort(key=lambda c: (RELATION_ORDER.get(c.relations[0], 9), order.get(c.claim_id, len(order)), c.claim_id))
    return changes


def html_lang(language: str | None) -> str | None:
    """The `lang` of an article's words in HTML: the registry's `zh` is written in simplified
    characters unless it says `zh-Hant`."""
    return "zh-Hans" if language == "zh" else language


def _by_story(flags: Iterable[StoredFlag]) -> list[list[StoredFlag]]:
    stories: dict[tuple[int, int], list[StoredFlag]] = {}
    for flag in flags:
        stories.setdefault(story_key(flag.item), []).append(flag)
    return list(stories.values())


def claim_entry(story: Sequence[StoredFlag], names: Mapping[str, str]) -> ClaimEntry:
    """The strongest flag of one story on one claim, with the other outlets carrying the story."""
    lead = min(story, key=lambda f: (RELATION_ORDER.get(f.relation, 9), -f.score, f.item.published_at, f.id))
    outlet = names.get(lead.item.source_id, lead.item.source_id)
    mentions = [Mention(names.get(s, s)) for s in lead.sources]
    for flag in sorted(story, key=lambda f: (f.item.published_at, f.id)):
        if flag is not lead:
            mentions.append(
                Mention(names.get(flag.item.source_id, flag.item.source_id), _url(flag.item), flag.item.title)
            )
            mentions += [Mention(names.get(s, s)) for s in flag.sources]
    return ClaimEntry(
        flag_id=lead.id,
        relation=lead.relation,
        score=lead.score,
        evidence=lead.evidence,
        state=lead.state,
        item=lead.item,
        outlet=outlet,
        also=_distinct(mentions, outlet),
        check=lead.verification.summary() if lead.verification else None,
    )


def rank_stories(
    items: Sequence[StoredItem],
    copies: Mapping[int, Sequence[StoredItem]],
    flags: Sequence[StoredFlag],
    names: Mapping[str, str],
) -> list[StoryEntry]:
    """One entry per story, the most widely carried first, then the most recent."""
    claims_of: dict[tuple[int, int], set[str]] = {}
    for flag in flags:
        claims_of.setdefault(story_key(flag.item), set()).add(flag.claim_id)
    stories: dict[tuple[int, int], list[StoredItem]] = {}
    for item in items:
        stories.setdefault(story_key(item), []).append(item)
    entries = [story_entry(group, copies, names, sorted(claims_of.get(key, set()))) for key, group in stories.items()]
    entries.sort(key=lambda e: (-e.outlets, -e.latest_at.timestamp(), e.item.id))
    return entries


def story_entry(
    group: Sequence[StoredItem], copies: Mapping[int, Sequence[StoredItem]], names: Mapping[str, str], claims: list[str]
) -> StoryEntry:
    """The lead is the report carried by the most outlets (then the earliest); the rest are mentions."""

    def carried(item: StoredItem) -> int:
        return len({item.source_id, *(c.source_id for c in copies.get(item.id, ()))})

    ordered = sorted(group, key=lambda i: (-carried(i), i.published_at, i.id))
    lead = ordered[0]
    outlet = names.get(lead.source_id, lead.source_id)
    mentions = [Mention(names.get(c.source_id, c.source_id), _url(c), c.title) for c in copies.get(lead.id, ())]
    for item in ordered[1:]:
        mentions.append(Mention(names.get(item.source_id, item.source_id), _url(item), item.title))
        mentions += [Mention(names.get(c.source_id, c.source_id), _url(c), c.title) for c in copies.get(item.id, ())]
    sources = {i.source_id for i in group} | {c.source_id for i in group for c in copies.get(i.id, ())}
    return StoryEntry(
        item=lead,
        outlet=outlet,
        also=_distinct(mentions, outlet),
        outlets=len(sources),
        items=len(group),
        latest_at=max(i.published_at for i in group),
        claims=tuple(claims),
        other_titles=tuple(
            (lang, title) for lang, title in titles_by_language(group).items() if lang != _language(lead)
        ),
    )


def _language(item: StoredItem) -> str:
    return item.lang.split("-")[0].lower() or "und"


def _url(item: StoredItem) -> str | None:
    return item.canonical_url or item.url


def _distinct(mentions: Iterable[Mention], lead_outlet: str) -> tuple[Mention, ...]:
    """One mention per outlet other than the lead's; one with a link wins over one without."""
    seen: dict[str, Mention] = {}
    for m in mentions:
        if m.outlet == lead_outlet:
            continue
        if m.outlet not in seen or (seen[m.outlet].url is None and m.url is not None):
            seen[m.outlet] = m
    return tuple(list(seen.values())[:MAX_MENTIONS])


def source_health(sources: Sequence[SourceState]) -> list[SourceHealth]:
    """The failing sources, the longest failing first."""
    failing = [s for s in sources if s.last_status == "error"]
    failing.sort(key=lambda s: (-s.consecutive_errors, (s.name or s.id).lower()))
    return [
        SourceHealth(s.name or s.id, s.consecutive_errors, s.last_success_at, s.last_error, s.last_error_at)
        for s in failing
    ]
