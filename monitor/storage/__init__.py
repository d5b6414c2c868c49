"""Persistence: SQLAlchemy tables, migrations and the repository. Imports only domain types."""

from __future__ import annotations

from monitor.storage.db import open_database
from monitor.storage.repository import SqlRepository

__all__ = ["SqlRepository", "open_database"]
