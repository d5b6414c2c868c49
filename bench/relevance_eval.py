"""Evaluate the topic rule on a labelled corpus (JSON lines: title, summary, body, claims, offtopic).

Prints, for the item judged on title + summary and on title + body:
- recall: the share of items with claims that are relevant (target >= 0.97);
- rejection: the share of `offtopic: true` items that are not relevant (target >= 0.9);
then the misses with their reasons, and the time per item.

    python bench/relevance_eval.py [items.jsonl] [--topic topic.toml]
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path
from typing import Any

from monitor.relevance import DEFAULT_TOPIC, Topic, TopicMatcher

DEV_CORPUS = Path("/work/shared/corpus/dev/items.jsonl")
RECALL_TARGET = 0.97
REJECTION_TARGET = 0.9


def load_items(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_topic(path: Path | None) -> Topic:
    if path is None:
        return DEFAULT_TOPIC
    with path.open("rb") as f:
        return Topic.model_validate(tomllib.load(f)["topic"])


def evaluate(matcher: TopicMatcher, items: list[dict[str, Any]], field: str) -> bool:
    """Print the figures for one text field; True when both targets are met."""
    on_topic = [i for i in items if i.get("claims")]
    off_topic = [i for i in items if i.get("offtopic")]
    start = time.perf_counter()
    verdicts = {i["id"]: matcher.judge(i["title"], i.get(field) or "") for i in items}
    per_item = (time.perf_counter() - start) / max(len(items), 1)
    found = [i for i in on_topic if verdicts[i["id"]].relevant]
    rejected = [i for i in off_topic if not verdicts[i["id"]].relevant]
    recall = len(found) / len(on_topic) if on_topic else 1.0
    rejection = len(rejected) / len(off_topic) if off_topic else 1.0
    print(f"title + {field}:")
    print(f"  recall on items with claims: {len(found)}/{len(on_topic)} = {recall:.3f} (target {RECALL_TARGET})")
    print(
        f"  off-topic items not relevant: {len(rejected)}/{len(off_topic)} = {rejection:.3f}"
        f" (target {REJECTION_TARGET})"
    )
    for item in on_topic:
        if not verdicts[item["id"]].relevant:
            print(f"  missed {item['id']}: {verdicts[item['id']].why}")
    for item in off_topic:
        if verdicts[item["id"]].relevant:
            print(f"  let through {item['id']}: {verdicts[item['id']].why}")
    others = [i for i in items if not i.get("claims") and not i.get("offtopic")]
    if others:
        kept = sum(verdicts[i["id"]].relevant for i in others)
        print(f"  (for information) items without claims, not off-topic, relevant: {kept}/{len(others)}")
    print(f"  {per_item * 1e6:.0f} µs per item (folding included)")
    return recall >= RECALL_TARGET and rejection >= REJECTION_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("items", nargs="?", type=Path, default=DEV_CORPUS)
    parser.add_argument("--topic", type=Path, help="a TOML file with a [topic] table (default: DEFAULT_TOPIC)")
    args = parser.parse_args()
    matcher = TopicMatcher(load_topic(args.topic))
    items = load_items(args.items)
    print(f"{len(items)} items from {args.items}")
    results = [evaluate(matcher, items, field) for field in ("summary", "body")]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
