"""Claim matching cost per item: the shipped 24-claim registry, and 1,000 synthetic claims.

    python bench/match_bench.py [--items 2000] [--repeat 5]

Items are generated (English and Chinese, titles plus ~10 sentences of body, some naming the
claims' subjects). Prints a table: median µs per item over `--repeat` runs, and the ratio of
the large registry to the small one (target: 24 claims ≤ 2 ms per item; 1,000 claims < 10×).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

from monitor.claims.matcher import ClaimMatcher
from monitor.claims.registry import ClaimSpec, Entity, Quantity, Registry, Signal
from monitor.config import load_registry

ROOT = Path(__file__).resolve().parents[1]
EN = (
    "Nvidia said the Commerce Department would grant licences for its H20 chips to China. "
    "Analysts expect the controls to tighten again next year. SMIC and Huawei are expanding output. "
    "The H20 price was about $12,000 per chip, buyers said. Beijing urged firms to avoid the chips. "
    "TSMC reported record revenue. Shares fell 3% on Tuesday. Smuggled GPUs sold at a 50% premium. "
    "Cambricon said its software platform rivals CUDA. The rule was issued in October 2023."
).split(". ")
ZH = (
    "美国商务部将向英伟达发放H20出口许可证。分析师预计管制明年还会收紧。中芯国际和华为正在扩产。"
    "买家称H20单价约1.2万美元。北京要求企业避免采购该芯片。台积电营收创新高。股价周二下跌3%。"
    "走私GPU溢价约50%。寒武纪称其软件平台可与CUDA竞争。该规则于2023年10月发布。"
).split("。")


def items(n: int, rng: random.Random, extra_terms: list[str]) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        pool = EN if rng.random() < 0.6 else ZH
        sentences = rng.sample(pool, k=min(8, len(pool)))
        if extra_terms:
            sentences.append(f"{rng.choice(extra_terms)} was mentioned alongside {rng.choice(extra_terms)}")
        out.append((sentences[0], ". ".join(sentences[1:])))
    return out


def synthetic_registry(n: int, rng: random.Random) -> tuple[Registry, list[str]]:
    words = [f"term{k:05d}" for k in range(n * 4)]
    claims = []
    for k in range(n):
        a, b, c, d = words[4 * k : 4 * k + 4]
        claims.append(
            ClaimSpec(
                id=f"S{k:04d}",
                anchors=(a, f"{a}-alias", "@nvidia" if k % 50 == 0 else a),
                terms=(b,),
                signals=(Signal(relation="supports", when=((a,), (b, c))), Signal(relation="updates", when=((a,), (d,)))),
                quantities=(Quantity(measure="x", value=rng.randint(1, 1000), unit="%", near=(c,)),),
            )
        )
    registry = Registry(entities=(Entity(id="nvidia", aliases=("Nvidia", "英伟达")),), claims=tuple(claims))
    return registry, words


def per_item_us(matcher: ClaimMatcher, batch: list[tuple[str, str]], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        for title, text in batch:
            matcher.match(title, text)
        runs.append((time.perf_counter() - began) / len(batch) * 1e6)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(7)
    small = ClaimMatcher(load_registry(ROOT / "config" / "claims.toml"))
    registry, words = synthetic_registry(1000, rng)
    began = time.perf_counter()
    large = ClaimMatcher(registry)
    compile_s = time.perf_counter() - began
    batch_small = items(args.items, rng, [])
    batch_large = items(args.items, rng, words)
    us_small = per_item_us(small, batch_small, args.repeat)
    us_large = per_item_us(large, batch_large, args.repeat)
    print(f"claim matching, {args.items} items, median of {args.repeat} runs, {os.cpu_count()} cores")
    print(f"{'registry':28} {'µs/item':>10} {'target':>12}")
    print(f"{'shipped (24 claims)':28} {us_small:10.0f} {'≤ 2000':>12}")
    print(f"{'synthetic (1,000 claims)':28} {us_large:10.0f} {f'< {10 * us_small:.0f}':>12}")
    print(f"{'ratio 1,000 / 24':28} {us_large / us_small:10.2f} {'< 10':>12}")
    print(f"{'compile 1,000 claims (s)':28} {compile_s:10.2f}")


if __name__ == "__main__":
    main()
