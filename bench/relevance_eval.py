"""Evaluate the topic rule, with and without the watched claims' terms, on the labelled corpora.

For each labelled set (article 1: dev/items.jsonl with seed/claims.md; article 2: article2/dev.jsonl
with article2/claims.md) and each way of judging an item, prints:
- recall: the share of items with claims that are relevant (target >= 0.97);
- off-topic excluded: the share of `offtopic: true` items that are not relevant (target 1.0);
- negatives relevant: items bearing on no claim, not off-topic, that are relevant (chip news of
  the same period: fine, for information);
under four matchers: the topic alone, the topic with the set's own claims, with the other
article's claims (a cross-check that the rule is not fitted to one set), and with both
articles' claims (one registry). Items are judged on title + summary (what a feed entry gives
the first verdict) and on title + summary + body (the verdict once the article is fetched).
Misses and let-throughs are listed with their reasons under `-v`. Exits 1 when a set with its
own claims misses a target.

    python -m bench.relevance_eval [-v] [--topic topic.toml] [--set items.jsonl claims.md ...]
"""

from __future__ import annotations

import argparse
import json
import re
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.keep.claim_terms import derive_claim_terms
from monitor.keep.default_topic import DEFAULT_TOPIC
from monitor.keep.dictionary import load_dictionary
from monitor.keep.relevance import Relevance, Topic, TopicMatcher

CORPUS = Path("/work/shared/corpus")
RECALL_TARGET = 0.97
EXCLUDED_TARGET = 1.0
_CLAIM_ROW = re.compile(r"^\|\s*([A-Za-z0-9_.-]+)\s*\|\s*(.+?)\s*\|\s*$")

Item = dict[str, Any]


@dataclass(frozen=True)
class LabelledSet:
    name: str
    items: list[Item]
    claims: dict[str, str]


def load_items(path: Path) -> list[Item]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_claims(path: Path) -> dict[str, str]:
    """id → text from a Markdown table `| id | claim |` (the header and rule rows skipped)."""
    claims = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _CLAIM_ROW.match(line)
        if match and match[1] != "id" and not set(match[2]) <= set("-| "):
            claims[match[1]] = match[2]
    return claims


def load_topic(path: Path | None) -> Topic:
    if path is None:
        return DEFAULT_TOPIC
    with path.open("rb") as f:
        return Topic.model_validate(tomllib.load(f)["topic"])


TEXTS: dict[str, Callable[[Item], str]] = {
    "title + summary": lambda i: i.get("summary") or "",
    "title + summary + body": lambda i: f"{i.get('summary') or ''} {i.get('body') or ''}",
}


def evaluate(matcher: TopicMatcher, items: list[Item], text: Callable[[Item], str]) -> dict[str, Any]:
    start = time.perf_counter()
    verdicts: dict[str, Relevance] = {i["id"]: matcher.judge(i["title"], text(i)) for i in items}
    elapsed = time.perf_counter() - start
    on_topic = [i for i in items if i.get("claims")]
    off_topic = [i for i in items if i.get("offtopic")]
    negatives = [i for i in items if not i.get("claims") and not i.get("offtopic")]
    return {
        "recall": (sum(verdicts[i["id"]].relevant for i in on_topic), len(on_topic)),
        "excluded": (sum(not verdicts[i["id"]].relevant for i in off_topic), len(off_topic)),
        "negatives": (sum(verdicts[i["id"]].relevant for i in negatives), len(negatives)),
        "missed": [(i["id"], verdicts[i["id"]].why) for i in on_topic if not verdicts[i["id"]].relevant],
        "let_through": [(i["id"], verdicts[i["id"]].why) for i in off_topic if verdicts[i["id"]].relevant],
        "by_claims": [(i["id"], verdicts[i["id"]].why) for i in items if "; claim " in verdicts[i["id"]].why],
        "us_per_item": elapsed / max(len(items), 1) * 1e6,
    }


def _share(pair: tuple[int, int]) -> str:
    hit, total = pair
    return f"{hit}/{total} = {hit / total if total else 1.0:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--topic", type=Path, help="a TOML file with a [topic] table (default: DEFAULT_TOPIC)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list misses and items kept by claim terms")
    parser.add_argument(
        "--set",
        nargs=2,
        action="append",
        type=Path,
        metavar=("ITEMS", "CLAIMS"),
        help="a labelled set (JSON lines) and its claims (Markdown table); default: the two articles' dev sets",
    )
    args = parser.parse_args()
    topic = load_topic(args.topic)
    pairs = [(str(i), i, c) for i, c in args.set or ()] or [
        ("article 1", CORPUS / "dev/items.jsonl", CORPUS.parent / "seed/claims.md"),
        ("article 2", CORPUS / "article2/dev.jsonl", CORPUS / "article2/claims.md"),
    ]
    sets = [LabelledSet(name, load_items(items), load_claims(claims)) for name, items, claims in pairs]
    start = time.perf_counter()
    dictionary = load_dictionary()  # read once for the three derivations

    def with_claims(claims: dict[str, str]) -> TopicMatcher:
        return TopicMatcher(topic, claim_terms=derive_claim_terms(claims, dictionary))

    matchers = {
        "topic alone": TopicMatcher(topic),
        **{f"+ {s.name}'s claims": with_claims(s.claims) for s in sets},
        "+ both articles' claims": with_claims({k: v for s in sets for k, v in s.claims.items()}),
    }
    print(f"matchers built in {time.perf_counter() - start:.2f} s (claim terms derived, dictionary read)")
    ok = True
    for labelled in sets:
        print(f"\n== {labelled.name}: {len(labelled.items)} items, {len(labelled.claims)} claims")
        for text_name, text in TEXTS.items():
            print(f"  judged on {text_name}")
            print(f"    {'matcher':<26} {'recall':>16} {'off-topic excluded':>20} {'negatives relevant':>20}  µs/item")
            for name, matcher in matchers.items():
                r = evaluate(matcher, labelled.items, text)
                print(
                    f"    {name:<26} {_share(r['recall']):>16} {_share(r['excluded']):>20}"
                    f" {_share(r['negatives']):>20}  {r['us_per_item']:.0f}"
                )
                if name == f"+ {labelled.name}'s claims":  # the targets: the set's own claims, either text
                    ok &= r["recall"][0] >= RECALL_TARGET * r["recall"][1]
                ok &= r["excluded"][0] >= EXCLUDED_TARGET * r["excluded"][1]
                if args.verbose and name != "topic alone":
                    for item_id, why in r["missed"]:
                        print(f"      missed {item_id}: {why}")
                    for item_id, why in r["let_through"]:
                        print(f"      let through {item_id}: {why}")
                    for item_id, why in r["by_claims"]:
                        print(f"      kept by claims {item_id}: {why}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
