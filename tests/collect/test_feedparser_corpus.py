"""feedparser's own 2,107 test feeds, each served on loopback as a source, ingested in one
`monitor run --once`: no crash, every failure recorded on its source with a readable reason,
every entry feedparser recovers and the rules keep is stored.

The corpus lives beside the repository (`../shared/corpus/feedparser-tests`); without it the
test is skipped. `bench/feedparser_corpus.py` prints the same figures outside pytest.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from monitor.cli import main
from tests.conftest import Workspace
from tests.feedcorpus import CORPUS, MONITOR_TOML, expected, figures, load_corpus, serve, source_id, sources_toml

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # reads the SQLite file itself
# The only failures a loopback server that serves every file can cause: no entries to store.
READABLE = ("parse: no entries: malformed feed (", "parse: no entries: not a feed (")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feedparser corpus not found at {CORPUS}")
def test_every_corpus_file_is_ingested_in_one_run(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    files = load_corpus()
    assert len(files) >= 2000, f"only {len(files)} files under {CORPUS}"
    workspace.write("monitor.toml", MONITOR_TOML)
    with serve(files) as base:
        workspace.write("sources.toml", sources_toml(files, base))
        began = time.monotonic()
        status = main(["run", "--once"])
        seconds = time.monotonic() - began
    captured = capsys.readouterr()
    assert status == 0
    assert "Traceback" not in captured.err and "internal error" not in captured.out

    with sqlite3.connect(workspace.database) as conn:
        sources = {sid: (st, err) for sid, st, err in conn.execute("SELECT id, last_status, last_error FROM source")}
        stored = dict(conn.execute("SELECT source_id, count(*) FROM item GROUP BY source_id").fetchall())
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]

    problems = []
    recovered = skipped = repeats = 0
    for n, file in enumerate(files):
        sid = source_id(n, file.rel)
        state, error = sources[sid]
        want = expected(file)
        recovered, skipped, repeats = recovered + want.entries, skipped + want.empty, repeats + want.repeats
        got = stored.get(sid, 0)
        if state == "error":
            # A readable reason: its kind, then why; never a fetch problem (every file is served).
            if not error or "\n" in error or not error.startswith(READABLE):
                problems.append(f"{file.rel}: unreadable or unexpected reason {error!r}")
            if want.storable:
                problems.append(f"{file.rel}: failed ({error}) but feedparser recovers {want.storable} entries")
        elif state != "ok":
            problems.append(f"{file.rel}: status {state!r}")
        if got != want.storable:
            problems.append(f"{file.rel}: stored {got} entries, expected {want.storable} ({want})")
    assert not problems, "\n".join(problems[:40])

    result = figures(workspace.database, len(files))
    assert result.ingested + result.failed == len(files)
    with capsys.disabled():
        print(f"\nfeedparser corpus: one run of {len(files)} sources in {seconds:.1f}s")
        print("\n".join(result.lines()))
        print(
            f"entries feedparser recovers: {recovered} = {result.entries} stored + {skipped} empty + {repeats} repeats"
        )
