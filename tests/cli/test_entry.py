"""The console script a worker process re-imports is light: a spawned process (the cycle's parse
workers) runs its parent's main script as `__mp_main__`, and the script imports its entry point's
module; that must not be every command of the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "monitor"

_AS_A_WORKER = """
import runpy, sys
runpy.run_path(sys.argv[1], run_name="__mp_main__")  # what multiprocessing's spawn does with it
heavy = sorted(m for m in ("monitor.cli", "sqlalchemy", "alembic", "httpx", "monitor.pipeline") if m in sys.modules)
print(",".join(heavy) or "-")
"""


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is installed with the package")
def test_a_worker_importing_the_console_script_imports_no_command() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _AS_A_WORKER, str(SCRIPT)], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "-"


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is installed with the package")
def test_the_console_script_still_runs_the_command_line(tmp_path: Path) -> None:
    done = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0
    assert "0." in done.stdout
