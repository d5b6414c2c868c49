"""Evaluate near-duplicate detection and story grouping on the labelled dev set.

    /work/.venv/bin/python bench/dedupe_eval.py [/work/shared/corpus/dev/items.jsonl]

Items are processed in published order (ties in file order), as the monitor would see them,
once with headline + body (what the monitor has after fetching the article) and once with
headline + summary (a feed entry only). The figures mirror /work/shared/corpus/score.py:

  dup_precision   predicted duplicate_of X is right when X has the item's syndicate root
  dup_recall      labelled near copies whose predicted root is their original's root
  story_*         pairs of items of one labelled event sharing a story id, within one
                  language family (en, zh); `cross` counts pairs across families too

It also prints the Jaccard similarities of near-copy pairs against other pairs (exact and
MinHash-estimated), the evidence behind `monitor.keep.neardup.THRESHOLD`, and the recall on
synthetic, lightly edited copies of every corpus text (new headline, added source line,
swapped words, dropped sentence, all at once, and a heavier edit), which gives 60 pairs for
each kind of edit against the five labelled ones.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.keep.neardup import NearDupIndex, Signature, shingles, signature, threshold_for
from monitor.keep.stories import StoryIndex, StoryRule, cosine, extract_features, family
from monitor.text.normalize import fold_text

DEV = Path("/work/shared/corpus/dev/items.jsonl")


@dataclass(frozen=True)
class Item:
    gid: str
    lang: str
    title: str
    summary: str
    body: str
    published_at: datetime
    event: str | None
    syndicate_of: str | None


@dataclass(frozen=True)
class Prediction:
    duplicate_of: str | None
    story: str


def load(path: Path) -> list[Item]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [
        Item(
            r["id"],
            r["lang"],
            r["title"],
            r.get("summary") or "",
            r.get("body") or "",
            datetime.fromisoformat(r["published"]).replace(tzinfo=UTC),
            r.get("event"),
            r.get("syndicate_of"),
        )
        for r in rows
    ]
    order = {it.gid: i for i, it in enumerate(items)}
    return sorted(items, key=lambda it: (it.published_at, order[it.gid]))


def text_of(item: Item, field: str) -> str:
    return item.body if field == "body" else item.summary


def predict(items: list[Item], field: str, stories: StoryIndex | None = None) -> dict[str, Prediction]:
    """Run both indexes over the items in order, as the pipeline will."""
    index, stories = NearDupIndex(), stories or StoryIndex()
    gids = [it.gid for it in items]
    out: dict[str, Prediction] = {}
    for n, it in enumerate(items):
        text = text_of(it, field)
        sig = signature(f"{it.title}\n{text}", it.lang)
        dup = index.register(n, sig, it.published_at) if sig is not None else None
        story = stories.assign(n, it.title, text, it.lang, it.published_at, dup)
        out[it.gid] = Prediction(None if dup is None else gids[dup], gids[n if story is None else story])
    return out


def root_in(items: dict[str, Item]) -> Callable[[str], str]:
    def root(gid: str) -> str:
        seen: set[str] = set()
        while (up := items[gid].syndicate_of) and gid not in seen:
            seen.add(gid)
            gid = up
        return gid

    return root


def ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def score(items: list[Item], pred: dict[str, Prediction], cross: bool = False) -> dict[str, float | None]:
    by = {it.gid: it for it in items}
    root = root_in(by)

    def proot(gid: str) -> str:
        seen: set[str] = set()
        while (up := pred[gid].duplicate_of) is not None and gid not in seen:
            seen.add(gid)
            gid = up
        return gid

    gold_dup = {g for g, it in by.items() if it.syndicate_of in by}
    proj_dup = {g for g in by if pred[g].duplicate_of is not None}
    hit = {g for g in gold_dup if g in proj_dup and proot(g) == proot(by[g].syndicate_of or g)}
    ok = {g for g in proj_dup if root(g) == root(pred[g].duplicate_of or g)}

    def event(g: str) -> str:
        return by[g].event or "single:" + root(g)

    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(by), 2):
        if not cross and family(by[a].lang) != family(by[b].lang):
            continue
        same_gold, same_pred = event(a) == event(b), pred[a].story == pred[b].story
        tp += same_gold and same_pred
        fp += same_pred and not same_gold
        fn += same_gold and not same_pred
    return {
        "dup_precision": ratio(len(ok), len(proj_dup)),
        "dup_recall": ratio(len(hit), len(gold_dup)),
        "story_precision": ratio(tp, tp + fp),
        "story_recall": ratio(tp, tp + fn),
    }


def describe(values: Iterable[float]) -> str:
    v = sorted(values)
    if not v:
        return "n=0"
    q = statistics.quantiles(v, n=20, method="inclusive") if len(v) > 1 else [v[0]] * 19
    median = statistics.median(v)
    return f"n={len(v):4}  min {v[0]:.3f}  p5 {q[0]:.3f}  median {median:.3f}  p95 {q[-1]:.3f}  max {v[-1]:.3f}"


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def print_distribution(items: list[Item], field: str) -> None:
    """Exact and estimated Jaccard of near-copy pairs, same-event pairs and the rest."""
    by = {it.gid: it for it in items}
    root = root_in(by)
    texts = {it.gid: f"{it.title}\n{text_of(it, field)}" for it in items}
    sh = {g: shingles(fold_text(t), by[g].lang) for g, t in texts.items()}
    sigs = {g: signature(t, by[g].lang) for g, t in texts.items()}
    groups: dict[tuple[str, str], list[tuple[float, float | None, str, str]]] = {}
    for a, b in itertools.combinations(sorted(by), 2):
        fam = family(by[a].lang)
        if fam != family(by[b].lang):
            continue
        kind = (
            "near copy"
            if root(a) == root(b)
            else "same event"
            if by[a].event and by[a].event == by[b].event
            else "other"
        )
        sa, sb = sigs[a], sigs[b]
        est = sa.jaccard(sb) if sa is not None and sb is not None else None
        groups.setdefault((fam, kind), []).append((jaccard(sh[a], sh[b]), est, a, b))
    print(f"Jaccard of shingle sets, headline + {field} (exact; MinHash estimate where both have a signature)")
    for (fam, kind), rows in sorted(groups.items()):
        print(f"  {fam} {kind:10} exact     {describe(r[0] for r in rows)}")
        ests = [r[1] for r in rows if r[1] is not None]
        print(f"  {fam} {kind:10} estimate  {describe(ests)}")
        if kind == "near copy":
            pairs = ", ".join(f"{a}~{b} {j:.2f}" for j, _, a, b in sorted(rows))
            print(f"  {' ' * 13}pairs     {pairs}")
    unsigned = sorted(g for g, s in sigs.items() if s is None)
    print(f"  too short for a signature: {len(unsigned)} of {len(sigs)}")


def print_story_evidence(items: list[Item], field: str, rule: StoryRule) -> None:
    """Term cosine of same-family pairs within the window (near copies left out), the evidence
    behind `StoryRule`: same event against different events, all and with names and numbers."""
    by = {it.gid: it for it in items}
    root = root_in(by)
    feats = {it.gid: extract_features(it.title, text_of(it, field), it.lang) for it in items}
    same: list[float] = []
    other: list[float] = []
    other_agreeing: list[float] = []
    for a, b in itertools.combinations(sorted(by), 2):
        fa, fb = feats[a], feats[b]
        if fa.family != fb.family or root(a) == root(b):
            continue
        if abs(by[a].published_at - by[b].published_at) > rule.window:
            continue
        sim = cosine(fa.terms, fb.terms)
        if by[a].event and by[a].event == by[b].event:
            same.append(sim)
            continue
        other.append(sim)
        names, numbers = len(fa.entities & fb.entities), len(fa.numbers & fb.numbers)
        if names >= rule.min_entities and numbers >= rule.min_numbers:
            other_agreeing.append(sim)
    print(f"Story evidence, headline + {field}: term cosine of same-family pairs within {rule.window.days} days")
    print(f"  same event                       {describe(same)}")
    print(f"  different events                 {describe(other)}")
    print(f"  different, sharing names+numbers {describe(other_agreeing)}")
    print(
        f"  rule: cosine ≥ {rule.text_sim}, or ≥ {rule.supported_sim} with ≥ {rule.min_entities} names and "
        f"≥ {rule.min_numbers} numbers in common; same event above {rule.text_sim}: "
        f"{sum(v >= rule.text_sim for v in same)} of {len(same)}"
    )


_SOURCE_LINES = {
    "en": ["(Reuters) - ", "NEW YORK (AP) — ", "Originally published by Bloomberg. "],
    "zh": ["（来源：新华社）", "【财经快讯】", "据央视新闻客户端消息，"],
}
_SENTENCE = re.compile(r"(?<=[.!?。！？；])\s*")


def edit(item: Item, kind: str, rng: random.Random, headlines: list[str]) -> str:
    """A lightly edited copy of the item's headline + body."""
    fam = family(item.lang)
    title, body = item.title, item.body
    if kind == "new headline":
        title = rng.choice(headlines)
    elif kind == "source line":
        line = rng.choice(_SOURCE_LINES[fam])
        body = line + body if rng.random() < 0.5 else body + " " + line
    elif kind == "word swaps":
        body = swap_words(body, fam, rng, 0.05)
    elif kind == "dropped sentence":
        sentences = [s for s in _SENTENCE.split(body) if s]
        if len(sentences) > 2:
            del sentences[rng.randrange(len(sentences))]
        body = (" " if fam == "en" else "").join(sentences)
    elif kind == "all of these":
        title = rng.choice(headlines)
        body = swap_words(body, fam, rng, 0.03) + " " + rng.choice(_SOURCE_LINES[fam])
    elif kind == "heavy edit":  # near the threshold: rewritten headline, every tenth word changed, a cut
        title = rng.choice(headlines)
        sentences = [s for s in _SENTENCE.split(body) if s]
        if len(sentences) > 3:
            del sentences[rng.randrange(len(sentences))]
        body = swap_words((" " if fam == "en" else "").join(sentences), fam, rng, 0.10)
    return f"{title}\n{body}"


def swap_words(text: str, fam: str, rng: random.Random, share: float) -> str:
    """Replace a share of the words (English) or characters (Chinese) by others of the text."""
    units = text.split(" ") if fam == "en" else list(text)
    for _ in range(max(1, int(len(units) * share))):
        i = rng.randrange(len(units))
        units[i] = rng.choice(units)
    return (" " if fam == "en" else "").join(units)


EDITS = ["new headline", "source line", "word swaps", "dropped sentence", "all of these", "heavy edit"]


def synthetic_recall(items: list[Item], seed: int = 7) -> None:
    """Index every corpus text, then query edited copies: found = their own root."""
    rng = random.Random(seed)
    by = {it.gid: it for it in items}
    root = root_in(by)
    index = NearDupIndex(window=timedelta(days=100 * 365))  # the whole corpus at once
    gids = [it.gid for it in items]
    for n, it in enumerate(items):
        sig = signature(f"{it.title}\n{it.body}", it.lang)
        if sig is not None:
            index.add(n, sig, it.published_at, duplicate_of=None)
    print("Synthetic near copies of the corpus texts (headline + body), queried against the corpus")
    for kind in EDITS:
        found = wrong = missed = 0
        estimates = []
        for it in items:
            headlines = [o.title for o in items if family(o.lang) == family(it.lang) and o.gid != it.gid]
            sig = signature(edit(it, kind, rng, headlines), it.lang)
            match = index.match(sig) if sig is not None else None
            own = signature(f"{it.title}\n{it.body}", it.lang)
            if sig is not None and own is not None:
                estimates.append(sig.jaccard(own))
            if match is None:
                missed += 1
            elif root(gids[match.root_id]) == root(it.gid):
                found += 1
            else:
                wrong += 1
        print(
            f"  {kind:16} recall {found / len(items):.3f}  wrong {wrong}  missed {missed}  "
            f"Jaccard to original: min {min(estimates):.3f} median {statistics.median(estimates):.3f}"
        )


def print_margins(items: list[Item]) -> None:
    """How far the threshold is from the nearest pairs on either side (estimates)."""
    by = {it.gid: it for it in items}
    root = root_in(by)
    sigs: dict[str, Signature | None] = {it.gid: signature(f"{it.title}\n{it.body}", it.lang) for it in items}
    lowest_copy, highest_other = 1.0, 0.0
    for a, b in itertools.combinations(sorted(by), 2):
        sa, sb = sigs[a], sigs[b]
        if sa is None or sb is None:
            continue
        j = sa.jaccard(sb)
        if root(a) == root(b):
            lowest_copy = min(lowest_copy, j)
        else:
            highest_other = max(highest_other, j)
    print(
        f"  threshold {threshold_for(10**6, 10**6)} (long texts): lowest near copy {lowest_copy:.3f}, "
        f"highest other pair {highest_other:.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("items", nargs="?", type=Path, default=DEV)
    args = ap.parse_args()
    items = load(args.items)
    for field in ("body", "summary"):
        pred = predict(items, field)
        figures = score(items, pred)
        cross = score(items, pred, cross=True)
        print(f"headline + {field}:")
        for key, value in figures.items():
            print(f"  {key:16} {value}")
        print(f"  {'story_* cross':16} precision {cross['story_precision']}  recall {cross['story_recall']}")
    print()
    print_distribution(items, "body")
    print_margins(items)
    print()
    print_distribution(items, "summary")
    print()
    print_story_evidence(items, "body", StoryRule())
    print()
    synthetic_recall(items)


if __name__ == "__main__":
    main()
