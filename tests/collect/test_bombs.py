"""Sixteen gzip bombs at once: `monitor run --once` refuses each at the size cap and its memory
stays bounded. The run is a process of its own (its peak RSS is its own VmHWM, not this test
process's, which holds models loaded by other tests); the bombs are served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.loopback import Handler, Script, scripted_server

BOMBS = 16
PEAK_MB = 300  # the bound for the whole run


def gzip_bomb(megabytes: int) -> bytes:
    """`megabytes` MB of zeros, gzipped (about 1,000:1), made without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * 1_000_000
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


def run_once(workspace: Workspace) -> tuple[int, float, str]:
    """Exit status, peak RSS in MB and stderr of `monitor run --once` in a child process.

    The peak is the child's VmHWM (/proc), read until it exits: `wait4`'s ru_maxrss would also
    count the pages the child shared with this test process between fork and exec, which is
    this process's whole RSS (models loaded by earlier tests: it read 242 MB for a run that
    peaked at 129 MB)."""
    with (workspace.root / "err.txt").open("w+", encoding="utf-8") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(workspace.config), "run", "--once"],
            cwd=workspace.root,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        peak_kb = 0
        status_file = Path(f"/proc/{child.pid}/status")
        while True:
            with contextlib.suppress(OSError, ValueError):
                for line in status_file.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.01)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return child.returncode, peak_kb / 1024, err.read()


@pytest.mark.sqlite_only
def test_sixteen_gzip_bombs_at_once_stay_within_memory(workspace: Workspace) -> None:
    bomb = gzip_bomb(400)  # 400 MB each once inflated; 400 KB on the wire
    with ExitStack() as stack:
        # a host each (127.0.0.1 to 127.0.0.16, all loopback): the per-host limit does not queue them
        servers = [stack.enter_context(scripted_server(f"127.0.0.{n + 1}")) for n in range(BOMBS)]
        urls = [server.doc(f"/bomb{n}.xml", bomb, Content_Encoding="gzip") for n, server in enumerate(servers)]
        workspace.sources(*({"id": f"bomb{n}", "url": url, "kind": "feed"} for n, url in enumerate(urls)))
        workspace.write("monitor.toml", '[poll]\narticle = "never"\n')
        code, peak_mb, err = run_once(workspace)
    assert code == 1, err  # every source failed
    assert peak_mb < PEAK_MB, f"peak RSS {peak_mb:.0f} MB"
    sources = Path(workspace.database)
    assert sources.exists()
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(workspace.config), "sources", "--json"],
        cwd=workspace.root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.count("over the 10000000-byte cap") == BOMBS


def slow_large_feed(megabytes: int) -> Script:
    """A valid feed of one item padded to `megabytes` MB by a comment, sent in 64 KB pieces
    over a second or two: all downloads are under way at once."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
    entry = b"<item><title>Export controls on AI chips</title><link>https://news.example/big</link></item>"
    padding = megabytes * 1_000_000 - len(head) - len(entry) - 30
    body = head + entry + b"<!--" + b"x" * padding + b"--></channel></rss>"

    def send(h: Handler, stop: threading.Event) -> None:
        h.start(Content_Length=str(len(body)))
        for start in range(0, len(body), 64 * 1024):
            if stop.is_set():
                return
            h.wfile.write(body[start : start + 64 * 1024])
            time.sleep(0.01)

    return send


@pytest.mark.sqlite_only
def test_large_downloads_at_once_share_one_memory_budget(workspace: Workspace) -> None:
    """Sixteen 9 MB feeds arriving at once, each under the 10 MB cap: without a total every
    download buffers its whole body at the same time; with `max_total_bytes` they take turns
    for room (the first admitted always goes on, so none waits forever), every one is stored,
    and the run's peak stays lower. Both runs here, one after the other, on the same servers."""
    peaks = {}
    with ExitStack() as stack:
        servers = [stack.enter_context(scripted_server(f"127.0.0.{n + 1}")) for n in range(BOMBS)]
        urls = [server.script(f"/big{n}.xml", slow_large_feed(9)) for n, server in enumerate(servers)]
        workspace.sources(*({"id": f"big{n}", "url": url, "kind": "feed"} for n, url in enumerate(urls)))
        for total in (10**10, 20_000_000):
            workspace.database.unlink(missing_ok=True)
            workspace.write("monitor.toml", f'[poll]\narticle = "never"\n[http]\nmax_total_bytes = {total}\n')
            code, peaks[total], err = run_once(workspace)
            assert code == 0, err
            assert sqlite3.connect(workspace.database).execute("SELECT count(*) FROM item").fetchone() == (BOMBS,)
    unbounded, bounded = peaks[10**10], peaks[20_000_000]
    assert bounded < unbounded - 50, peaks  # 16 x 9 MB at once, against 20 MB (+ one cap) at once
    assert bounded < PEAK_MB, peaks  # seen: 520–545 MB unbounded, 223 MB bounded
