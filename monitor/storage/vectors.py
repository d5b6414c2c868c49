"""The judge's stored sentence vectors: read many at once, written in one statement per batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from monitor.storage.db import in_chunks
from monitor.storage.tables import ItemVectorRow, table_of


@dataclass(frozen=True, slots=True)
class StoredVectors:
    """An item's vectors as stored: `data` is `rows` x `dim` float16, row-major."""

    item_id: int
    encoder: str
    key: str
    rows: int
    dim: int
    data: bytes


class VectorStore:
    """Mixed into SqlRepository: the vector half of the repository."""

    def session(self) -> Session:  # provided by SqlRepository
        raise NotImplementedError

    def load_vectors(self, item_ids: Sequence[int], encoder: str) -> dict[int, StoredVectors]:
        """The stored vectors of these items made by `encoder` (others are absent)."""
        found: dict[int, StoredVectors] = {}
        with self.session() as session:
            for part in in_chunks(list(item_ids)):
                query = select(ItemVectorRow).where(ItemVectorRow.item_id.in_(part), ItemVectorRow.encoder == encoder)
                for row in session.scalars(query):
                    found[row.item_id] = StoredVectors(row.item_id, row.encoder, row.key, row.rows, row.dim, row.data)
        return found

    def save_vectors(self, vectors: Sequence[StoredVectors], at: datetime) -> None:
        """Store (or replace) each item's vectors, in one transaction."""
        if not vectors:
            return
        with self.session() as session, session.begin():
            for part in in_chunks([v.item_id for v in vectors]):
                session.execute(delete(ItemVectorRow).where(ItemVectorRow.item_id.in_(part)))
            session.execute(
                insert(table_of(ItemVectorRow)),
                [
                    {
                        "item_id": v.item_id,
                        "encoder": v.encoder,
                        "key": v.key,
                        "rows": v.rows,
                        "dim": v.dim,
                        "data": v.data,
                        "created_at": at,
                    }
                    for v in vectors
                ],
            )
