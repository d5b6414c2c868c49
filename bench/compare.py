"""The interleaved comparison with the peer: pure helpers of `bench/run.py`.

Pairs run the monitor's child and reader's alternately, alternating which goes first (A B, B A,
…), so that a change in the machine's load falls on both; each pair gives its ratios, and the
table shows the median of the per-pair ratios with their range. `LoadSampler` records the load
average in the parent while the pairs run.
"""

from __future__ import annotations

import os
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

MONITOR, READER = "monitor", "reader"


@dataclass(frozen=True)
class Spread:
    """The median of some values and their range."""

    median: float
    low: float
    high: float

    def text(self, digits: int = 2) -> str:
        return f"{self.median:,.{digits}f} (range {self.low:,.{digits}f}–{self.high:,.{digits}f})"


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no values")
    return Spread(statistics.median(values), min(values), max(values))


def pair_orders(pairs: int) -> list[tuple[str, str]]:
    """Which child runs first in each pair: the monitor, then reader first, and so on."""
    return [(MONITOR, READER) if n % 2 == 0 else (READER, MONITOR) for n in range(pairs)]


def monitor_cpu(run: dict[str, Any]) -> float:
    """The monitor's first-run CPU: its process and its worker processes."""
    return float(run["first"]["cpu_seconds"] + run["first"]["workers_cpu_seconds"])


def pair_ratios(monitor: dict[str, Any], reader: dict[str, Any]) -> dict[str, float]:
    """Monitor ÷ reader for one pair, on the same feeds (so items cancel out): first-run items/s
    (wall), items per CPU-second, the unchanged re-run's time, peak RSS (all processes)."""
    return {
        "first_rate": reader["first"]["seconds"] / monitor["first"]["seconds"],
        "cpu_rate": reader["first"]["cpu_seconds"] / monitor_cpu(monitor),
        "again_time": monitor["again"]["seconds"] / reader["again"]["seconds"],
        "tree_rss": monitor["tree_rss_mb"] / reader["tree_rss_mb"],
    }


@dataclass
class LoadSampler:
    """`os.getloadavg()[0]` every `interval` seconds in a thread of the parent while the block
    runs, with the 1-minute load before and after it."""

    interval: float = 1.0
    samples: list[float] = field(default_factory=list)
    before: float = 0.0
    after: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LoadSampler:
        self.before = os.getloadavg()[0]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.after = os.getloadavg()[0]

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.interval):
                return

    def as_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "samples": self.samples}

    def text(self) -> str:
        during = spread(self.samples or [self.before])
        return (
            f"{self.before:.2f} before, {self.after:.2f} after; during "
            f"min {during.low:.2f}, median {during.median:.2f}, max {during.high:.2f} ({len(self.samples)} samples)"
        )
