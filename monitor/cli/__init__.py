"""The command line (Click): `monitor COMMAND …`, one module per command group.

`monitor.cli.base` holds the group, its options and the one way a command runs; each module
below declares its commands and does their work. Importing them here registers them.
"""

from __future__ import annotations

import sys

from monitor.cli import claims, digest, items, judge, notify, poll, sources, status, stories, web, worker
from monitor.cli.base import main
from monitor.cli.poll import build_cycle

__all__ = ["build_cycle", "main", "main_exit"]
_COMMANDS = (claims, digest, items, judge, notify, poll, sources, status, stories, web, worker)  # registered on import


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())
