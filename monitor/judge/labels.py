"""Labelled items (the corpus format of `../shared/corpus`) and the figures scored on them. Pure
but for `read_labelled`, which reads the files.

A labelled file has one JSON object per line: `id`, `title`, `summary`, `body`, `published`,
`lang`, `claims` (claim id → supports / contradicts / updates), `event`, `syndicate_of`,
`negative`, `offtopic` (see `../shared/corpus/README.md`). The figures are those of
`../shared/corpus/score.py`, computed the same way: a syndicated copy counts as its original,
so flagging either is the same (item, claim) pair.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError

RELATIONS = ("supports", "contradicts", "updates")


@dataclass(frozen=True)
class LabelledItem:
    id: str
    title: str
    summary: str
    body: str
    published: dt.date
    lang: str
    claims: Mapping[str, str]
    event: str | None = None
    syndicate_of: str | None = None
    negative: bool = False
    offtopic: bool = False

    @property
    def text(self) -> str:
        return f"{self.summary}\n{self.body}"

    @property
    def family(self) -> str:
        """ "en" or "zh" (both scripts)."""
        return self.lang.split("-")[0]


def read_labelled(paths: Iterable[Path]) -> list[LabelledItem]:
    """Every item of the files, in order; a bad line is a ConfigError with the file and line.
    An id seen twice keeps its first item (the second article's set repeats the first's items)."""
    items: dict[str, LabelledItem] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(path, f"cannot read labelled items: {e}") from e
        for number, line in enumerate(lines, 1):
            if line.strip():
                item = _item(line, path, number)
                items.setdefault(item.id, item)
    return list(items.values())


def _item(line: str, path: Path, number: int) -> LabelledItem:
    try:
        data = json.loads(line)
        claims = {str(k): str(v) for k, v in (data.get("claims") or {}).items()}
        if bad := [v for v in claims.values() if v not in RELATIONS]:
            raise ValueError(f"unknown relation {bad[0]!r}")
        return LabelledItem(
            id=str(data["id"]),
            title=str(data.get("title") or ""),
            summary=str(data.get("summary") or ""),
            body=str(data.get("body") or ""),
            published=dt.date.fromisoformat(str(data["published"])[:10]),
            lang=str(data.get("lang") or "en"),
            claims=claims,
            event=data.get("event"),
            syndicate_of=data.get("syndicate_of"),
            negative=bool(data.get("negative")),
            offtopic=bool(data.get("offtopic")),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(path, f"not a labelled item: {e}", line=number) from e


def roots(items: Sequence[LabelledItem]) -> dict[str, str]:
    """Each item's original: itself, or what it is a copy of (followed to the end)."""
    by_id = {i.id: i for i in items}
    found: dict[str, str] = {}
    for item in items:
        current, seen = item, {item.id}
        while current.syndicate_of in by_id and current.syndicate_of not in seen:
            seen.add(current.syndicate_of)
            current = by_id[current.syndicate_of]
        found[item.id] = current.id
    return found


def event_of(item: LabelledItem, root: Mapping[str, str]) -> str:
    return item.event or f"single:{root[item.id]}"


@dataclass
class Outcome:
    """What the monitor made of the labelled items: relevance, duplicates, stories, flags."""

    relevant: dict[str, bool] = field(default_factory=dict)
    duplicate_of: dict[str, str] = field(default_factory=dict)
    story: dict[str, str] = field(default_factory=dict)
    flags: dict[str, dict[str, str]] = field(default_factory=dict)  # item id → claim id → relation


def ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def figures(items: Sequence[LabelledItem], outcome: Outcome, *, cross_language: bool = False) -> dict[str, Any]:
    """score.py's figures (see its docstring), plus flag figures per language family."""
    root = roots(items)
    result: dict[str, Any] = {"corpus_items": len(items), "coverage": 1.0 if items else None}
    result |= _relevance(items, outcome)
    result |= _duplicates(items, outcome, root)
    result |= _stories(items, outcome, root, cross_language)
    result |= _flags(items, outcome, root)
    result["per_language"] = {
        family: _flags([i for i in items if i.family == family], outcome, root)
        for family in sorted({i.family for i in items})
    }
    result["per_claim"] = _per_claim(items, outcome, root)
    return result


def _relevance(items: Sequence[LabelledItem], outcome: Outcome) -> dict[str, Any]:
    bearing = [i for i in items if i.claims]
    offtopic = [i for i in items if i.offtopic]
    return {
        "relevant_recall": ratio(sum(outcome.relevant.get(i.id, True) for i in bearing), len(bearing)),
        "offtopic_excluded": ratio(sum(not outcome.relevant.get(i.id, True) for i in offtopic), len(offtopic)),
    }


def copy_root(duplicate_of: Mapping[str, str], ids: set[str], item_id: str) -> str:
    """The original a chain of found copies leads to, among `ids` (score.py's reading)."""
    seen = {item_id}
    while (nxt := duplicate_of.get(item_id)) in ids and nxt not in seen:
        seen.add(nxt)
        item_id = nxt
    return item_id


def _duplicates(items: Sequence[LabelledItem], outcome: Outcome, root: Mapping[str, str]) -> dict[str, Any]:
    ids = {i.id for i in items}

    def found_root(item_id: str) -> str:
        return copy_root(outcome.duplicate_of, ids, item_id)

    gold = [i for i in items if i.syndicate_of in ids]
    found = [i for i in items if i.id in outcome.duplicate_of]
    hit = [i for i in gold if i.id in outcome.duplicate_of and found_root(i.id) == found_root(str(i.syndicate_of))]
    right = [i for i in found if outcome.duplicate_of[i.id] in ids and root[i.id] == root[outcome.duplicate_of[i.id]]]
    return {"dup_precision": ratio(len(right), len(found)), "dup_recall": ratio(len(hit), len(gold))}


def _stories(
    items: Sequence[LabelledItem], outcome: Outcome, root: Mapping[str, str], cross_language: bool
) -> dict[str, Any]:
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(items, key=lambda i: i.id), 2):
        if not cross_language and a.family != b.family:
            continue
        same_gold = event_of(a, root) == event_of(b, root)
        sa, sb = outcome.story.get(a.id), outcome.story.get(b.id)
        same = sa is not None and sa == sb
        tp += same_gold and same
        fp += same and not same_gold
        fn += same_gold and not same
    return {"story_precision": ratio(tp, tp + fp), "story_recall": ratio(tp, tp + fn)}


Pairs = dict[tuple[str, str], str]  # (original item, claim) → the gold relation
Found = dict[tuple[str, str], Counter[str]]  # (original item, claim) → the relations flagged


def _pairs(items: Sequence[LabelledItem], outcome: Outcome, root: Mapping[str, str]) -> tuple[Pairs, Found]:
    gold: Pairs = {}
    for item in items:
        for claim_id, relation in item.claims.items():
            gold.setdefault((root[item.id], claim_id), relation)
    flagged: Found = defaultdict(Counter)
    for item in items:
        for claim_id, relation in outcome.flags.get(item.id, {}).items():
            flagged[(root[item.id], claim_id)][relation] += 1
    return gold, flagged


def _flags(items: Sequence[LabelledItem], outcome: Outcome, root: Mapping[str, str]) -> dict[str, Any]:
    gold, flagged = _pairs(items, outcome, root)
    hit = set(gold) & set(flagged)

    def stance(relation: str) -> str:
        return "supports" if relation == "supports" else "challenges"

    relation_ok = sum(flagged[p].most_common(1)[0][0] == gold[p] for p in hit)
    stance_ok = sum(stance(flagged[p].most_common(1)[0][0]) == stance(gold[p]) for p in hit)
    negatives = {root[i.id] for i in items if i.negative}
    flagged_roots = {r for r, _ in flagged}
    return {
        "flag_precision": ratio(len(hit), len(flagged)),
        "flag_recall": ratio(len(hit), len(gold)),
        "relation_accuracy": ratio(relation_ok, len(hit)),
        "stance_accuracy": ratio(stance_ok, len(hit)),
        "negatives_clean": ratio(len(negatives - flagged_roots), len(negatives)),
    }


def _per_claim(items: Sequence[LabelledItem], outcome: Outcome, root: Mapping[str, str]) -> dict[str, dict[str, int]]:
    gold, flagged = _pairs(items, outcome, root)
    table = {}
    for claim_id in sorted({c for _, c in gold} | {c for _, c in flagged}):
        g = {p for p in gold if p[1] == claim_id}
        f = {p for p in flagged if p[1] == claim_id}
        table[claim_id] = {"gold": len(g), "flagged": len(f), "hit": len(g & f)}
    return table
