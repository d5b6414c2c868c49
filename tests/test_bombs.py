"""Sixteen gzip bombs at once: `monitor run --once` refuses each at the size cap and its memory
stays bounded. The run is a process of its own (its peak RSS is read from `wait4`, not this
test process's, which holds models loaded by other tests); the bombs are served on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from contextlib import ExitStack
from pathlib import Path

from tests.conftest import Workspace
from tests.loopback import scripted_server

BOMBS = 16
PEAK_MB = 300  # the bound for the whole run


def gzip_bomb(megabytes: int) -> bytes:
    """`megabytes` MB of zeros, gzipped (about 1,000:1), made without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * 1_000_000
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


def run_once(workspace: Workspace) -> tuple[int, float, str]:
    """Exit status, peak RSS in MB and stderr of `monitor run --once` in a child process."""
    with (workspace.root / "err.txt").open("w+", encoding="utf-8") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(workspace.config), "run", "--once"],
            cwd=workspace.root,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return child.returncode, usage.ru_maxrss / 1024, err.read()


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
