"""Two `monitor run --once` processes started at once on one SQLite database: no corruption,
no duplicate rows, no second original of one story, and each exits 0 or with a clear line."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from monitor.storage import open_database
from tests.conftest import Workspace
from tests.invariants import check_database
from tests.loopback import Handler, Script, item, rss, scripted_server

SOURCES, ITEMS, SHARED = 6, 40, 10  # SHARED stories appear in every source (cross-source copies)
MONITOR_TOML = '[http]\ntimeout = 5\ndeadline = 20\n\n[poll]\narticle = "never"\n'


def feed(n: int) -> str:
    own = [item(f"s{n}-{k}", f"Source {n} story {k}", host=f"s{n}.example") for k in range(ITEMS)]
    shared = [
        f"<title>Shared story {k}</title><link>http://wire.example/shared/{k}</link><guid>s{n}-shared-{k}</guid>"
        f"<description>The same wire story {k}, carried by every source.</description>"
        for k in range(SHARED)
    ]
    return rss(*own, *shared, title=f"Source {n}")


def monitor(root: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(root / "config"), *argv],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


@pytest.mark.sqlite_only
@pytest.mark.slow
@pytest.mark.parametrize("fresh", [True, False], ids=["fresh database", "migrated database"])
def test_two_runs_at_once(workspace: Workspace, fresh: bool) -> None:
    workspace.write("monitor.toml", MONITOR_TOML)

    def slow_feed(body: bytes) -> Script:
        def respond(h: Handler, stop: threading.Event) -> None:
            stop.wait(0.05)  # both runs overlap in their writes
            h.respond(body)

        return respond

    with scripted_server() as server:
        workspace.sources(
            *(
                {"id": f"s{n}", "url": server.script(f"/s{n}.xml", slow_feed(feed(n).encode())), "kind": "feed"}
                for n in range(SOURCES)
            )
        )
        if not fresh:
            open_database(f"sqlite:///{workspace.database}").dispose()
        procs = [monitor(workspace.root, "run", "--once") for _ in range(2)]
        results = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert "Traceback" not in err, err
        if proc.returncode != 0:  # allowed only with one clear line saying why
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("busy: a poll is in progress"), err
    assert any(p.returncode == 0 for p in procs), [r[1] for r in results]
    counts = check_database(workspace.database)
    assert counts == {"items": SOURCES * (ITEMS + SHARED), "originals": SOURCES * ITEMS + SHARED}
