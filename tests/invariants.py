"""What must hold of a database after any sequence of runs, crashed or concurrent ones included."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def check_database(database: Path) -> dict[str, int]:
    """Assert the invariants (an intact file, no row stored twice, one original per story,
    copies pointing at originals); return the item and original counts."""
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        twice = conn.execute(
            "SELECT source_id, guid, count(*) FROM item GROUP BY source_id, guid HAVING count(*) > 1"
        ).fetchall()
        assert twice == [], f"rows stored twice: {twice[:5]}"
        twice_url = conn.execute(
            "SELECT source_id, canonical_url, count(*) FROM item WHERE canonical_url IS NOT NULL "
            "GROUP BY source_id, canonical_url HAVING count(*) > 1"
        ).fetchall()
        assert twice_url == [], f"links stored twice in a source: {twice_url[:5]}"
        originals = conn.execute(
            "SELECT canonical_url, count(*) FROM item WHERE duplicate_of IS NULL AND canonical_url IS NOT NULL "
            "GROUP BY canonical_url HAVING count(*) > 1"
        ).fetchall()
        assert originals == [], f"stories stored as more than one original: {originals[:5]}"
        chained = conn.execute(
            "SELECT count(*) FROM item c JOIN item o ON c.duplicate_of = o.id WHERE o.duplicate_of IS NOT NULL"
        ).fetchone()
        assert chained == (0,), "a copy points at another copy"
        return {
            "items": conn.execute("SELECT count(*) FROM item").fetchone()[0],
            "originals": conn.execute("SELECT count(*) FROM item WHERE duplicate_of IS NULL").fetchone()[0],
        }


def query(database: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Read while a monitor process may be writing (WAL: readers never block it)."""
    conn = sqlite3.connect(database, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
