"""The monitor's exceptions: small, typed, carrying the resource they concern."""

from __future__ import annotations

from pathlib import Path


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """A config file is missing, unreadable or invalid.

    `str()` is one line naming the file (and line), the entry and the key.
    """

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        line: int | None = None,
        entry: str | None = None,
        key: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.entry = entry
        self.key = key
        self.message = message
        where = f"{self.path}:{line}" if line else str(self.path)
        what = " ".join(part for part in (f"[{entry}]" if entry else "", f"{key}:" if key else "") if part)
        super().__init__(f"{where}: {what + ' ' if what else ''}{message}")


class InputError(MonitorError):
    """A file given on the command line (`claims import FILE`) cannot be used as it is.

    `str()` is one line naming the file and, where the problem has one, the line.
    """

    def __init__(self, path: Path | str, message: str, *, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")


class SourceError(MonitorError):
    """Something went wrong with one source; stored on the source, never fatal."""

    kind = "source"

    def __init__(self, source_id: str, message: str) -> None:
        self.source_id = source_id
        self.message = message
        super().__init__(f"{source_id}: {message}")


class FetchError(SourceError):
    """The source could not be downloaded (network, HTTP status, limits)."""

    kind = "fetch"

    def __init__(
        self, source_id: str, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(source_id, message)
        self.status = status
        self.retry_after = retry_after


class BlockedURLError(FetchError):
    """The URL is not one the monitor may fetch (scheme, address)."""

    kind = "blocked"


class ParseError(SourceError):
    """The downloaded document yields nothing usable."""

    kind = "parse"


class StorageError(MonitorError):
    """An operational database failure: locked, disk full, permission."""


class DeliveryError(MonitorError):
    """A digest could not be delivered on a channel."""
