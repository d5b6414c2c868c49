"""The command line's frame (Click): usage errors exit 2 with a message, as argparse's did;
options that exclude each other; dates checked where they are given; shell completion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from monitor.cli import main
from tests.conftest import Workspace


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run"], "Missing option '--once'"),
        (["digest", "--since", "2025-01-01", "--date", "2025-01-02"], "cannot be given together"),
        (["digest", "--send", "--dry-run"], "cannot be given together"),
        (["items", "--since", "last tuesday"], "not an ISO date"),
        (["flags", "confirm", "seven"], "is not a valid integer"),
        (["no-such-command"], "No such command"),
        (["eval"], "Missing argument"),
    ],
)
def test_a_usage_error_exits_2_and_says_why(
    argv: list[str], says: str, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert says in capsys.readouterr().err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(command in out for command in ("run", "serve", "claims", "flags", "digest", "stories", "web"))
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("monitor ")


def test_a_config_error_is_exit_2_before_any_work(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    workspace.write("monitor.toml", "[poll]\nno_such_key = 1\n")
    assert main(["items"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config error:") and "monitor.toml" in err


def test_shell_completion_is_offered() -> None:
    env = {**os.environ, "_MONITOR_COMPLETE": "bash_complete", "COMP_WORDS": "monitor cl", "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-m", "monitor"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "plain,claims" in done.stdout.split()
