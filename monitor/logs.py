"""Logging set-up: one line per event on stderr, as text or as JSON lines.

The monitor writes its events as `key=value` pairs (`source=bis status=ok new=3 seconds=0.42`);
the JSON form keeps the message and lifts those pairs into fields, numbers as numbers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_PAIR = re.compile(r"""(?<![\w.])([a-z_][a-z0-9_]*)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"]\S*)""")
_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d+\.\d+")
_QUIET = ("alembic", "apscheduler", "httpx", "httpcore")
_MARK = "_monitor_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the message's key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        for key, value in event_fields(message).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def event_fields(message: str) -> dict[str, Any]:
    """The `key=value` pairs of a message; quoted values unquoted, numbers as numbers."""
    return {m[1]: _value(m[2]) for m in _PAIR.finditer(message)}


def _value(raw: str) -> Any:
    if raw[:1] in ("'", '"'):
        return raw[1:-1].replace("\\" + raw[0], raw[0])
    if _INT.fullmatch(raw):
        return int(raw)
    if _FLOAT.fullmatch(raw):
        return float(raw)
    return raw


def configure_logging(level: str, fmt: LogFormat = "text") -> None:
    """Send log records to stderr in one format; third-party chatter only from warning up.

    Like `logging.basicConfig`, leaves alone a root logger that others have set up (a test
    runner's capture); a second call replaces what the first installed."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)


def log_time(when: datetime | None) -> str:
    """A time as the event lines show it: UTC to the second, "Z"; "-" for none."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if when else "-"


def skip_busy_poll_ticks(record: logging.LogRecord) -> bool:
    """A poll tick that finds the previous cycle still running is normal, not a warning."""
    args = record.args if isinstance(record.args, tuple) else ()
    return not (args and getattr(args[0], "id", None) == "poll" and "maximum number of running" in str(record.msg))
