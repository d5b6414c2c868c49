"""What every command prints the same way: JSON documents and UTC timestamps."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any


def print_json(doc: Any) -> None:
    """A JSON document on stdout, Chinese kept readable (not \\u-escaped)."""
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


def iso(when: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, or None."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None
