"""kill -9 of `monitor run --once` or `monitor serve`, then what is left of it: no worker process
outlives it, and `monitor status` and the next start see its cycle and its locks as a dead
process's (stale), not as a poll in progress. On loopback, with the real commands as
subprocesses (issue 16)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.pipeline.cycle import PARSE_POOL_MIN_SOURCES
from tests.conftest import Workspace
from tests.invariants import check_database, query
from tests.loopback import scripted_server
from tests.pipeline.test_crash import MONITOR_TOML, feed, held, kill_when, monitor
from tests.servicekit import Serve, configure

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # reads the SQLite file itself


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid`, read from /proc (no psutil here)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        kids = children(todo.pop())
        found |= kids
        todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie (an orphan's reaper may be slow, or absent in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stored_ok(database: Path) -> int:
    try:
        rows = query(database, "SELECT count(*) FROM source WHERE last_status = 'ok'")
    except sqlite3.OperationalError:  # no database or no schema yet
        return 0
    return int(str(rows[0][0]))


def status(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(root / "config"), "status", *extra]) == 0
    return capsys.readouterr().out


@pytest.fixture
def crash(workspace: Workspace) -> Workspace:
    workspace.write("monitor.toml", MONITOR_TOML)
    return workspace


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or (os.cpu_count() or 1) < 2, reason="needs /proc, 2 cores")
def test_parse_workers_die_with_a_killed_run(crash: Workspace) -> None:
    """A cycle of 20 sources parses in worker processes; kill -9 of the run while they wait for
    the last (held) download ends every one of them within seconds, not minutes."""
    release = threading.Event()
    quick = [f"s{k:02d}" for k in range(PARSE_POOL_MIN_SOURCES - 1)]
    with scripted_server() as server:
        crash.sources(
            *({"id": s, "url": server.doc(f"/{s}.xml", feed(s, 3)), "kind": "feed"} for s in quick),
            {"id": "slow", "url": server.script("/slow.xml", held(feed("slow", 3), release)), "kind": "feed"},
        )
        proc = monitor(crash.root)
        workers: set[int] = set()
        try:
            deadline = time.monotonic() + 25
            while not (stored_ok(crash.database) == len(quick) and len(workers) >= 2):
                assert proc.poll() is None, "the run ended before the kill point"
                assert time.monotonic() < deadline, f"the kill point was never reached (children: {workers})"
                workers.update(descendants(proc.pid))
                time.sleep(0.01)
            proc.kill()  # not kill_when: its communicate() would wait for children that keep the pipes
            proc.wait()
            deadline = time.monotonic() + 5
            while any(alive(p) for p in workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            survivors = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in workers if alive(p)}
            assert not survivors, f"processes of the killed run still alive 5s after it: {survivors}"
        finally:
            proc.kill()
            for pid in workers:  # this test's own leftovers, by pid, when it fails
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            proc.communicate()
            release.set()


PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1] % os.getpid()])
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    "arm",
    [
        "from monitor.pipeline.lifeline import die_with_parent as arm",  # prctl on Linux
        "from monitor.pipeline.lifeline import _watch_parent as arm",  # the portable fallback
    ],
    ids=["prctl", "watch-thread"],
)
def test_a_child_that_armed_itself_dies_with_its_killed_parent(arm: str) -> None:
    child_code = f"import time\n{arm}\narm(%d)\nprint('armed', flush=True)\ntime.sleep(60)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, child_code], stdout=subprocess.PIPE, env=env)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert parent.stdout.readline() == b"armed\n"  # the child's, on the same pipe
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 3
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child), "the child outlived its killed parent by 3s"
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)
        parent.stdout.close()


def test_status_after_kill_reports_the_stale_cycle_and_next_run_recovers(
    crash: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill -9 then status: the dead run's cycle and poll lock are shown as stale (text and
    JSON), not in progress; the next run takes over, marks that cycle abandoned and polls."""
    release = threading.Event()
    with scripted_server() as server:
        crash.sources(
            {"id": "a", "url": server.doc("/a.xml", feed("a")), "kind": "feed"},
            {"id": "b", "url": server.script("/b.xml", held(feed("b"), release)), "kind": "feed"},
        )
        proc = monitor(crash.root)
        kill_when(proc, lambda: server.hits["/b.xml"] > 0 and stored_ok(crash.database) == 1)
        dead = proc.pid
        assert query(crash.database, "SELECT id, status FROM cycle") == [(1, "running")]

        text = status(capsys, crash.root)
        assert "poll in progress" not in text
        assert f"cycle 1: running in pid {dead}, which is no longer running (stale)" in " ".join(text.split())
        report = json.loads(status(capsys, crash.root, "--json"))
        assert report["poll_in_progress"] is None
        assert report["poll_stale"]["holder"]["pid"] == dead
        assert "no longer running" in report["poll_stale"]["reason"]
        assert report["last_cycle"]["status"] == "running"
        assert f"pid {dead}" in report["last_cycle"]["stale"]

        release.set()
        proc = monitor(crash.root)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    assert "event=lock_taken_over" in err.decode() and "event=cycle_abandoned cycle=1" in err.decode()
    assert query(crash.database, "SELECT id, status, finished_at IS NOT NULL FROM cycle") == [
        (1, "abandoned", 1),
        (2, "ok", 1),
    ]
    report = json.loads(status(capsys, crash.root, "--json"))
    assert report["poll_in_progress"] is None and report["poll_stale"] is None
    assert report["last_cycle"]["id"] == 2 and report["last_cycle"]["stale"] is None
    check_database(crash.database)


def test_serve_killed_mid_cycle_then_status_then_a_new_serve(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill -9 of `monitor serve` in a cycle: status shows the service, its poll lock and its
    cycle as stale; the next `serve` marks the cycle abandoned as it starts, then polls."""
    configure(workspace)
    release = threading.Event()
    with scripted_server() as server:
        workspace.sources(
            {"id": "a", "url": server.doc("/a.xml", feed("a")), "kind": "feed"},
            {"id": "b", "url": server.script("/b.xml", held(feed("b"), release)), "kind": "feed"},
        )
        first = Serve(workspace, "first").start()
        try:
            first.wait_for(
                "a cycle waiting on b", lambda: server.hits["/b.xml"] > 0 and stored_ok(workspace.database) == 1
            )
        finally:
            assert first.proc is not None
            first.proc.kill()
            first.proc.wait()
        dead = first.proc.pid

        report = json.loads(status(capsys, workspace.root, "--json"))
        assert not report["service"]["running"] and "no longer running" in report["service"]["stale"]
        assert report["poll_in_progress"] is None and report["poll_stale"]["holder"]["pid"] == dead
        assert report["last_cycle"]["stale"] == f"running in pid {dead}, which is no longer running (stale)"
        assert "service: not running (pid" in status(capsys, workspace.root)

        release.set()
        second = Serve(workspace, "second").start()
        try:
            second.wait_for("a cycle after the abandoned one", lambda: stored_ok(workspace.database) == 2)
        finally:
            assert second.stop() == 0
    assert "event=cycle_abandoned cycle=1 trigger=serve" in second.output()
    assert query(workspace.database, "SELECT status FROM cycle WHERE id = 1") == [("abandoned",)]
    assert query(workspace.database, "SELECT count(*) FROM cycle WHERE status = 'running'") == [(0,)]
