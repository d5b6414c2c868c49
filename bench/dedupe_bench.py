"""Cost per item of near-duplicate detection and story grouping at 10k and 100k items.

    /work/.venv/bin/python bench/dedupe_bench.py [--sizes 10000 100000] [--rate 2000] [--jobs 2]

A synthetic stream of English and Chinese items (60–300 words; Chinese about 1.5 characters
a word) arrives at `--rate` items a day: about half start a new event, a third rephrase a
recent event (same names and numbers, four sentences in five new), the rest are near copies of
a recent item (new headline, a few words swapped, a source line added). Each item is folded and
signed once, registered in a `NearDupIndex` (30-day window) and assigned in a `StoryIndex`
(7-day window), as the pipeline will do; at 2000 a day the 100k run holds 60k items in the
near-duplicate window and 14k in the story window, against 10k and 10k for the 10k run.
Words come from the dev corpus (Zipf-weighted, with a long tail of made-up words) so shingles
and terms overlap about as much as real same-topic news does.

Only those calls are timed, not text generation, and in CPU time of the process, so other load
on the machine counts less. Each size runs in its own process, `--jobs` of them side by side
(the 10k run ends long before the 100k one; the whole stays under 3 minutes on two cores).
Peak memory is the process's peak resident set less what it held before the first item;
`last10k_us` is the mean cost over the last 10k items, with both windows full.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.keep.neardup import NearDupIndex, shingle_hashes, signature_of
from monitor.keep.stories import ALIASES, StoryIndex
from monitor.text.normalize import fold_text

DEV = Path("/work/shared/corpus/dev/items.jsonl")
START = datetime(2025, 1, 1, tzinfo=UTC)


class Vocabulary:
    """Zipf-weighted words (or characters) seen in the corpus, then made-up ones."""

    def __init__(self, units: list[str], rng: random.Random, made_up: int, cjk: bool) -> None:
        seen = list(dict.fromkeys(units))
        counts = {u: 0 for u in seen}
        for u in units:
            counts[u] += 1
        seen.sort(key=lambda u: -counts[u])
        alphabet = [chr(c) for c in range(0x4E00, 0x9FA5)] if cjk else list("abcdefghijklmnopqrstuvwxyz")
        extra = {"".join(rng.choice(alphabet) for _ in range(1 if cjk else rng.randint(4, 9))) for _ in range(made_up)}
        self.units = seen + sorted(extra - set(seen))
        weights = 1.0 / (np.arange(len(self.units)) + 8.0) ** 1.05
        self._draw = np.random.default_rng(rng.getrandbits(64))
        self._p = weights / weights.sum()
        self._pool: list[str] = []
        self._next = 0

    def sample(self, n: int) -> list[str]:
        """`n` units, drawn in bulk beforehand (numpy is much faster at it than `random`)."""
        if self._next + n > len(self._pool):
            picks = self._draw.choice(len(self.units), size=200_000, p=self._p)
            self._pool, self._next = [self.units[i] for i in picks], 0
        self._next += n
        return self._pool[self._next - n : self._next]


@dataclass
class Event:
    lang: str
    names: list[str]
    numbers: list[str]
    sentences: list[str]
    at: datetime


class Stream:
    """Synthetic news items, deterministic for a seed."""

    def __init__(self, seed: int, rate_per_day: float) -> None:
        self.rng = random.Random(seed)
        rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
        en_words = [w.lower() for r in rows if r["lang"] == "en" for w in re.findall(r"[A-Za-z]+", r["body"])]
        zh_chars = [c for r in rows if r["lang"] != "en" for c in r["body"] if "\u4e00" <= c <= "\u9fff"]
        self.en = Vocabulary(en_words, self.rng, 30_000, cjk=False)
        self.zh = Vocabulary(zh_chars, self.rng, 3_000, cjk=True)
        ascii_names = sorted({k.title() for k in ALIASES if k.isascii() and " " not in k})
        zh_names = sorted(k for k in ALIASES if not k.isascii())
        made_up = ["".join(self.rng.choice("bcdfghklmnprstvz") + self.rng.choice("aeiou") for _ in range(3)).title()
                   for _ in range(3000)]  # fmt: skip
        models = [f"{self.rng.choice('ABHMX')}{self.rng.randint(10, 999)}" for _ in range(500)]
        self.en_names = ascii_names + made_up + models
        self.zh_names = zh_names + models + [n.lower() for n in made_up[:500]]
        self.step = timedelta(days=1) / rate_per_day
        self.recent: deque[Event] = deque(maxlen=400)
        self.recent_items: deque[tuple[str, str, str]] = deque(maxlen=400)

    def numbers(self, zh: bool) -> list[str]:
        r = self.rng
        options = [
            f"{r.randint(2, 900)}亿美元" if zh else f"${r.randint(2, 900)} billion",
            f"{r.randint(2, 95)}%",
            f"{r.randint(1, 12)}月{r.randint(1, 28)}日" if zh else f"{r.choice(['March', 'July'])} {r.randint(1, 28)}",
            f"{r.randint(100, 99999)}",
        ]  # fmt: skip
        return r.sample(options, r.randint(1, 3))

    def sentence(self, event: Event) -> str:
        zh = event.lang != "en"
        words = (self.zh if zh else self.en).sample(self.rng.randint(12, 30) if zh else self.rng.randint(8, 25))
        for _ in range(self.rng.randint(0, 2)):
            words.insert(self.rng.randrange(len(words) + 1), self.rng.choice(event.names + event.numbers))
        return ("".join(words) + "。") if zh else (" ".join(words).capitalize() + ".")

    def new_event(self, at: datetime) -> Event:
        lang = self.rng.choice(["en", "en", "zh-Hans", "zh-Hant"])
        zh = lang != "en"
        names = self.rng.sample(self.zh_names if zh else self.en_names, self.rng.randint(2, 5))
        event = Event(lang, names, self.numbers(zh), [], at)
        n_sentences = self.rng.randint(4, 14) if not zh else self.rng.randint(3, 10)
        event.sentences = [self.sentence(event) for _ in range(n_sentences)]
        return event

    def item(self, n: int) -> tuple[str, str, str, datetime]:
        at = START + n * self.step
        roll = self.rng.random()
        fresh = [e for e in list(self.recent)[-200:] if at - e.at < timedelta(days=3)]
        if roll < 0.5 or not fresh or not self.recent_items:
            event = self.new_event(at)
            self.recent.append(event)
            title, body = self.sentence(event), " ".join(event.sentences)
        elif roll < 0.82:
            event = self.rng.choice(fresh)
            sentences = [s if self.rng.random() < 0.2 else self.sentence(event) for s in event.sentences]
            title, body = self.sentence(event), " ".join(sentences)
        else:
            title, body, lang = self.rng.choice(self.recent_items)
            units = body.split(" ") if lang == "en" else list(body)
            for _ in range(max(1, len(units) // 30)):
                units[self.rng.randrange(len(units))] = self.rng.choice(units)
            body = (" " if lang == "en" else "").join(units) + (" (Reuters)" if lang == "en" else "（来源：新华社）")
            event = Event(lang, [], [], [], at)
            title = f"Re: {title}"
        self.recent_items.append((title, body, event.lang))
        return title, body, event.lang, at


def run(size: int, rate: float, seed: int) -> dict[str, float]:
    """Process `size` items; per-item microseconds and memory, as a dict."""
    stream = Stream(seed, rate)
    neardup, stories = NearDupIndex(), StoryIndex()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t_sig = t_dup = t_story = 0.0
    per_item = np.zeros(size)
    dups = joined = unsigned = 0
    for n in range(size):
        title, body, lang, at = stream.item(n)
        t0 = time.process_time()
        folded = fold_text(f"{title}\n{body}")  # once, for both indexes
        sig = signature_of(shingle_hashes(folded, lang))
        t1 = time.process_time()
        dup = neardup.register(n, sig, at) if sig is not None else None
        t2 = time.process_time()
        story = stories.assign(n, title, body, lang, at, dup, folded)
        t3 = time.process_time()
        t_sig, t_dup, t_story = t_sig + t1 - t0, t_dup + t2 - t1, t_story + t3 - t2
        per_item[n] = t3 - t0
        dups += dup is not None
        joined += story is not None
        unsigned += sig is None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "items": size,
        "fold_sign_us": 1e6 * t_sig / size,
        "neardup_us": 1e6 * t_dup / size,
        "stories_us": 1e6 * t_story / size,
        "total_us": 1e6 * (t_sig + t_dup + t_story) / size,
        "median_us": 1e6 * float(np.median(per_item)),
        "last10k_us": 1e6 * float(per_item[-10_000:].mean()),
        "peak_mb": (peak - base_rss) / 1024,
        "indexed": len(neardup),
        "stories_live": len(stories),
        "duplicates": dups,
        "joined": joined,
        "unsigned": unsigned,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--rate", type=float, default=2000, help="items a day")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="sizes run side by side, one process each")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: run one size, print JSON
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run(args.one, args.rate, args.seed)))
        return
    started = time.perf_counter()

    def run_child(size: int) -> dict[str, float]:
        cmd = [sys.executable, __file__, "--one", str(size), "--rate", str(args.rate), "--seed", str(args.seed)]
        return dict(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_child, args.sizes))
    cols = ["items", "fold_sign_us", "neardup_us", "stories_us", "total_us", "median_us", "last10k_us", "peak_mb",
            "indexed", "stories_live", "duplicates", "joined"]  # fmt: skip
    print(" | ".join(f"{c:>12}" for c in cols))
    for r in results:
        print(" | ".join(f"{r[c]:>12.1f}" if isinstance(r[c], float) else f"{r[c]:>12}" for c in cols))
    if len(results) > 1:
        big, small = results[-1], results[0]
        print(
            f"per-item cost ratio {big['items']} / {small['items']}: mean {big['total_us'] / small['total_us']:.2f}, "
            f"median {big['median_us'] / small['median_us']:.2f}"
        )
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
