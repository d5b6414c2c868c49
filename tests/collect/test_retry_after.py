"""Retry-After (issue 16): shown in whole seconds, never `1e+09s`, and capped at `backoff_max`."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime

import pytest

from monitor.backoff import describe_wait
from monitor.cli import main
from tests.conftest import Workspace
from tests.loopback import scripted_server

CAP = 7200  # the interval is 60s: only a Retry-After makes the first failure wait this long


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "0s"),
        (119.6, "120s"),  # an HTTP date gives fractions of a second
        (3600.0, "3,600s"),
        (7200.0, "7,200s (2 hours)"),
        (86400.0, "86,400s (24 hours)"),
        (172800.0, "172,800s (2 days)"),
        (1e9, "1,000,000,000s (31.7 years)"),
        (1e300, "over 1,000,000,000,000,000s (beyond any cap)"),
        (math.inf, "over 1,000,000,000,000,000s (beyond any cap)"),  # 400 digits parse as inf
        (math.nan, "an unreadable wait"),
    ],
)
def test_describe_wait(seconds: float, shown: str) -> None:
    assert describe_wait(seconds) == shown


@pytest.mark.parametrize(
    ("retry_after", "shown"),
    [
        ("1000000000", r"Retry-After: 1,000,000,000s \(31\.7 years\)"),
        ("9" * 400, r"Retry-After: over 1,000,000,000,000,000s \(beyond any cap\)"),
        ("Fri, 31 Dec 9999 23:59:59 GMT", r"Retry-After: [\d,]+s \(7,9\d\d\.\d years\)"),
    ],
)
def test_a_long_retry_after_is_shown_whole_and_capped(
    retry_after: str, shown: str, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.write("monitor.toml", f'[poll]\narticle = "never"\ninterval = 60\njitter = 0\nbackoff_max = {CAP}\n')
    with scripted_server() as server:
        url = server.doc("/busy", b"slow down", "text/plain", 429, Retry_After=retry_after)
        workspace.sources({"id": "busy", "url": url, "kind": "feed"})
        assert main(["run", "--once"]) == 1  # its only source failed
    capsys.readouterr()
    assert main(["sources", "--json"]) == 0
    (state,) = json.loads(capsys.readouterr().out)
    assert state["last_error"].startswith("fetch: HTTP 429 Too Many Requests (Retry-After: ")
    assert "e+" not in state["last_error"]
    assert re.search(shown, state["last_error"]), state["last_error"]
    polled, due = (datetime.fromisoformat(state[k]) for k in ("last_polled_at", "next_poll_at"))
    assert (due - polled).total_seconds() == pytest.approx(CAP, abs=1)


@pytest.mark.parametrize("value", ["²", "١٢٠", "12a", "-5", ""])
def test_a_retry_after_that_is_no_number_is_ignored(value: str) -> None:
    """`str.isdigit` is true of '²' and Arabic-Indic digits, which `float` refuses: such a header
    made an "internal error" of the whole source."""
    from monitor.backoff import parse_retry_after

    assert parse_retry_after(value) is None
