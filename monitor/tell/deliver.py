"""Deliver a rendered digest: the file channel. Writes atomically, so a reader never sees half."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from monitor.errors import DeliveryError


def write_file(directory: Path, name: str, text: str) -> Path:
    """Write `text` to `directory/name` via a temporary file and an atomic rename."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).chmod(0o644)  # mkstemp makes it private; digests and the feed are for reading
        target = directory / name
        Path(tmp).replace(target)
        return target
    except OSError as e:
        raise DeliveryError(f"cannot write {directory / name}: {e.strerror}") from e
