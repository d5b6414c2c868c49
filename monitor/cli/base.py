"""The command line's frame, on Click: the `monitor` group and its global options, the types of
its dates, the exit codes, and `run_command`, the one way a command runs.

A command is declared with Click in the module of its group (`monitor.cli.claims`, …) and its
work is a function `cmd_x(args, config) -> exit code`: `run_command` loads the configuration,
sets up logging (the command line wins over `[log]`), calls it, and turns the monitor's errors
into their exit codes and one line on stderr. `main` runs the group without Click's own exit,
so tests and `python -m monitor` get the code back. Shell completion is Click's:
`eval "$(_MONITOR_COMPLETE=bash_source monitor)"` (zsh_source, fish_source alike).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any, NoReturn

import click

from monitor import __version__
from monitor.config import Config, load_config, resolve_config_dir
from monitor.errors import ConfigError, MonitorError
from monitor.logs import configure_logging
from monitor.storage import close_databases
from monitor.text.cedict import keep_lookups_in

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_BUSY = 3  # another process holds the database lock
LOUD_COMMANDS = ("serve", "web", "worker")  # log at info by default: they run for long, and say what they do

Command = Callable[[argparse.Namespace, Config], int]


@dataclass
class Globals:
    """The options given before the command."""

    config: str | None = None
    log_level: str | None = None
    log_json: bool = False


def parse_when(value: str) -> datetime:
    """An ISO date or date-time; naive means UTC."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError as e:
        raise ValueError(f"not an ISO date or date-time: {value!r}") from e
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_day(value: str) -> datetime:
    return datetime.combine(parse_when(value).date(), time(), tzinfo=UTC)


class _Parsed(click.ParamType[Any]):
    """A Click type from one of the parsers above (its error is the usage error's message)."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


WHEN = _Parsed("DATE", parse_when)
DAY = _Parsed("DAY", parse_day)
ISO_DAY = _Parsed("YYYY-MM-DD", lambda v: datetime.fromisoformat(v).date())


@click.group(
    name="monitor",
    help="A claim-aware news monitor for AI-chip export controls.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="monitor", message="%(prog)s %(version)s")
@click.option("--config", metavar="DIR", help="config directory (default: $MONITOR_CONFIG or ./config)")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="default: [log] level, else info for serve and warning for the rest",
)
@click.option("--log-json", is_flag=True, help="log JSON lines (default: [log] format)")
@click.pass_context
def root(ctx: click.Context, config: str | None, log_level: str | None, log_json: bool) -> None:
    ctx.obj = Globals(config, log_level, log_json)


def exclusive(**options: Any) -> None:
    """A usage error when more than one of these options was given (argparse's mutually
    exclusive group)."""
    given = [f"--{name.replace('_', '-')}" for name, value in options.items() if value not in (None, False)]
    if len(given) > 1:
        raise click.UsageError(f"{' and '.join(given)} cannot be given together")


def run_command(ctx: click.Context, work: Command, **params: Any) -> NoReturn:
    """Run `work` with the configuration and `params` (as its `args`), and exit with its code."""
    ctx.exit(_run(ctx.find_root().obj, ctx.find_root().invoked_subcommand or "", work, params))


def _run(options: Globals, command: str, work: Command, params: dict[str, Any]) -> int:
    default_level = "info" if command in LOUD_COMMANDS else "warning"
    configure_logging(options.log_level or default_level, "json" if options.log_json else "text")
    try:
        config = load_config(resolve_config_dir(params.pop("config", None) or options.config))
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    keep_lookups_in(config.storage_dir / "cache")
    configured = config.settings.log
    if configured.level or configured.format == "json":  # the command line wins over [log]
        configure_logging(
            options.log_level or configured.level or default_level,
            "json" if options.log_json else configured.format,
        )
    try:
        return int(work(argparse.Namespace(**params), config))
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except MonitorError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        close_databases()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on `argv` (default: the process's) and return its exit code."""
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        code = root.main(args=args, prog_name="monitor", standalone_mode=False)
    except click.ClickException as e:  # a usage error: Click's message, argparse's code
        e.show()
        return e.exit_code
    except click.Abort:
        print("aborted", file=sys.stderr)
        return EXIT_FAILED
    return code if isinstance(code, int) else EXIT_OK
