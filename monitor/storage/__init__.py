"""Persistence: SQLAlchemy tables, migrations and the repository. Imports only domain types."""

from __future__ import annotations

from monitor.storage.db import close_databases, open_database
from monitor.storage.repository import SqlRepository

__all__ = ["SqlRepository", "close_databases", "open_database"]
