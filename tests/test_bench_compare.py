"""The benchmark's interleaved comparison (bench/compare.py) and its feed sets' on-topic share."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bench.compare import LoadSampler, Spread, pair_orders, pair_ratios, spread
from bench.feeds import DEV, generate


def test_spread_is_the_median_and_range() -> None:
    assert spread([3.0, 1.0, 2.0, 10.0]) == Spread(2.5, 1.0, 10.0)
    assert spread([4.0]) == Spread(4.0, 4.0, 4.0)
    assert spread([0.5, 2.0, 1.0]).text() == "1.00 (range 0.50–2.00)"
    with pytest.raises(ValueError):
        spread([])


def test_pairs_alternate_which_goes_first() -> None:
    assert pair_orders(3) == [("monitor", "reader"), ("reader", "monitor"), ("monitor", "reader")]
    assert pair_orders(0) == []


def _run(first: float, cpu: float, again: float, rss: float, workers: float | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {"first": {"seconds": first, "cpu_seconds": cpu}, "again": {"seconds": again}}
    if workers is not None:
        run["first"]["workers_cpu_seconds"] = workers
    return run | {"tree_rss_mb": rss}


def test_pair_ratios_are_monitor_over_reader() -> None:
    monitor = _run(first=10.0, cpu=12.0, again=1.0, rss=300.0, workers=8.0)
    reader = _run(first=40.0, cpu=40.0, again=4.0, rss=50.0)
    ratios = pair_ratios(monitor, reader)
    assert ratios["first_rate"] == pytest.approx(4.0)  # items/s: same items, 4× less time
    assert ratios["cpu_rate"] == pytest.approx(2.0)  # 40 s CPU against 12 + 8 (process + workers)
    assert ratios["again_time"] == pytest.approx(0.25)
    assert ratios["tree_rss"] == pytest.approx(6.0)


def test_load_sampler_samples_while_the_block_runs() -> None:
    with LoadSampler(interval=0.01) as load:
        time.sleep(0.05)
    assert len(load.samples) >= 2
    assert all(s >= 0 for s in load.samples)
    assert set(load.as_dict()) == {"before", "after", "samples"}
    assert "during min" in load.text()


@pytest.mark.skipif(not DEV.is_file(), reason=f"dev corpus not found at {DEV}")
def test_on_topic_share_changes_only_which_items_are_on_topic() -> None:
    usual = generate(8000, feeds=6, items=20)
    assert [f.body for f in generate(8000, feeds=6, items=20, on_topic=0.35)] == [f.body for f in usual]
    quiet = generate(8000, feeds=6, items=20, on_topic=0.0)
    assert [(f.lang, f.kind, f.items) for f in quiet] == [(f.lang, f.kind, f.items) for f in usual]
    assert [f.body for f in quiet] != [f.body for f in usual]
    with pytest.raises(ValueError):
        generate(8000, feeds=1, on_topic=0.5)
