"""Ingest feedparser's own test feeds in one run and print the figures for docs/RELIABILITY.md.

    python bench/feedparser_corpus.py [--corpus ../shared/corpus/feedparser-tests] [--keep DIR]

Serves every file of the corpus on loopback (with the HTTP headers each file simulates in its
leading comment), runs `monitor run --once` on all of them in a fresh working directory, and
prints: files ingested and failed (by reason class), entries stored, what feedparser itself
recovers from the same bytes (the oracle `tests/collect/test_feedparser_corpus.py` checks against),
and the time the run took. Same harness as the test: `tests/feedcorpus.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.cli import main  # noqa: E402
from tests.feedcorpus import (  # noqa: E402
    CORPUS,
    MONITOR_TOML,
    expected,
    figures,
    load_corpus,
    serve,
    sources_toml,
)


def run(corpus: Path, workdir: Path) -> None:
    files = load_corpus(corpus)
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "monitor.toml").write_text(MONITOR_TOML, encoding="utf-8")
    os.chdir(workdir)
    with serve(files) as base:
        (workdir / "config" / "sources.toml").write_text(sources_toml(files, base), encoding="utf-8")
        began = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(["run", "--once"])
        seconds = time.monotonic() - began
    result = figures(workdir / "storage" / "monitor.db", len(files))
    oracle = [expected(f) for f in files]
    print(f"monitor run --once: exit {status}, {len(files)} sources in {seconds:.1f}s")
    print("\n".join(result.lines()))
    print(f"entries feedparser recovers: {sum(e.entries for e in oracle)}")
    print(f"  skipped as empty (no title, summary or link): {sum(e.empty for e in oracle)}")
    print(f"  repeats of a guid or link within their feed: {sum(e.repeats for e in oracle)}")
    print(f"  storable by the rules: {sum(e.storable for e in oracle)}")
    print(f"feeds flagged malformed (bozo) by feedparser: {sum(e.bozo for e in oracle)}")
    print(f"of which kept with a warning (entries stored): {sum(e.bozo and e.storable > 0 for e in oracle)}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--keep", type=Path, help="working directory to keep (default: a temporary one)")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus}")
    if args.keep:
        run(args.corpus.resolve(), args.keep.resolve())
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(args.corpus.resolve(), Path(tmp) / "run")


if __name__ == "__main__":
    cli()
