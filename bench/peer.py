"""The peer: lemon24/reader (PyPI `reader`) ingesting the same feeds, in its own process:

    python -m bench.peer WORKDIR URLS_FILE WORKERS

`make_reader`, `add_feed` for every URL (not timed), then `update_feeds(workers=WORKERS)` timed,
twice: the first run stores every entry, the second finds every feed unchanged (304s).
`scheduled=False` so that the second run asks the server again instead of waiting for the
feeds' next scheduled update. Prints one JSON line like `bench.ingest`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.ingest import vm_hwm_mb


def timed_update(reader: Any, workers: int) -> dict[str, float]:
    began, cpu = time.perf_counter(), time.process_time()
    reader.update_feeds(workers=workers, scheduled=False)
    return {"seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu}


def main() -> None:
    from reader import make_reader

    workdir, urls_file, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    reader = make_reader(str(workdir / "reader.sqlite"))
    for url in urls_file.read_text(encoding="utf-8").split():
        reader.add_feed(url)
    first = timed_update(reader, workers)
    stored = reader.get_entry_counts().total
    again = timed_update(reader, workers)
    errors = sum(1 for feed in reader.get_feeds() if feed.last_exception)
    reader.close()
    peak_mb = vm_hwm_mb()
    print(
        json.dumps(
            {
                "first": {**first, "stored": stored, "errors": errors},
                "again": again,
                "peak_rss_mb": peak_mb,
            }
        )
    )


if __name__ == "__main__":
    main()
