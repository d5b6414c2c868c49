"""Item search: the FTS5 index of migration 0012 on SQLite, a substring scan elsewhere.

The index holds text folded by the caller (storage does not import the normaliser): triggers
note items stored or changed in `item_search_dirty`; `index_pending` takes those notes, has
the caller's `document` function fold each item, and writes the index rows, in one transaction
per chunk. `search` runs an FTS5 query the caller built from folded words (`MATCH`), best
first (bm25), newest first on ties.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Engine, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from monitor.records import StoredItem
from monitor.storage.rows import item_record
from monitor.storage.tables import ItemRow

# The tables migration 0012 makes outside the ORM's metadata (FTS5 keeps its own shadow tables):
# schema comparisons skip them.
SEARCH_TABLE_PREFIXES = ("item_search",)
Document = Callable[[StoredItem], tuple[str, str]]  # an item -> its folded (title, body)


def is_search_table(name: str | None) -> bool:
    return bool(name) and str(name).startswith(SEARCH_TABLE_PREFIXES)


class ItemSearch:
    """Search over stored items; `indexed` is False where FTS5 is not available (PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.indexed = engine.dialect.name == "sqlite" and self._has_index()

    def _has_index(self) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'item_search'")
            ).first()
            return found is not None

    def index_pending(self, document: Document, *, chunk: int = 500) -> int:
        """Index every item noted since the last call; returns how many were indexed."""

        if not self.indexed:
            return 0
        done = 0
        while True:
            with self._sessions() as session, session.begin():
                noted = session.scalars(text("SELECT item_id FROM item_search_dirty LIMIT :n"), {"n": chunk})
                ids = [int(i) for i in noted]
                if not ids:
                    return done
                rows = session.scalars(select(ItemRow).where(ItemRow.id.in_(ids))).all()
                params = [_row(row.id, *document(item_record(row))) for row in rows]
                _replace_rows(session, ids, params)
                done += len(rows)

    def search(self, match: str, words: Sequence[str], *, limit: int = 100) -> list[StoredItem]:
        """Items matching: by the FTS5 query `match` where indexed, else each of `words` as a
        case-insensitive substring of the title or summary."""

        with self._sessions() as session:
            if self.indexed:
                ranked = session.execute(
                    text(
                        "SELECT rowid FROM item_search WHERE item_search MATCH :q ORDER BY bm25(item_search) LIMIT :n"
                    ),
                    {"q": match, "n": limit},
                ).all()
                order = {int(r[0]): n for n, r in enumerate(ranked)}
                rows = session.scalars(select(ItemRow).where(ItemRow.id.in_(list(order)))).all()
                return [item_record(r) for r in sorted(rows, key=lambda r: order[r.id])]
            query = select(ItemRow).order_by(ItemRow.published_at.desc(), ItemRow.id.desc()).limit(limit)
            for word in words:
                pattern = f"%{word}%"
                query = query.where(or_(ItemRow.title.ilike(pattern), ItemRow.summary.ilike(pattern)))
            return [item_record(r) for r in session.scalars(query)]


def _row(item_id: int, title: str, body: str) -> dict[str, object]:
    return {"id": item_id, "title": title, "body": body}


def _replace_rows(session: Session, ids: Sequence[int], params: Sequence[dict[str, object]]) -> None:
    for item_id in ids:
        session.execute(text("DELETE FROM item_search WHERE rowid = :id"), {"id": item_id})
        session.execute(text("DELETE FROM item_search_dirty WHERE item_id = :id"), {"id": item_id})
    if params:
        session.execute(text("INSERT INTO item_search (rowid, title, body) VALUES (:id, :title, :body)"), params)
