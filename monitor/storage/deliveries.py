"""Digests and their deliveries in the database: a digest is identified by its period; each
channel's delivery (file, email, atom) is recorded once it happened, or failed, with why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.records import DeliveryRecord, DigestRecord
from monitor.storage.tables import DeliveryRow, DigestRow


class DigestStore:
    """Mixed into SqlRepository: the digest-delivery half of the repository."""

    def session(self) -> Session:  # provided by SqlRepository
        raise NotImplementedError

    def find_digest(self, start: datetime, end: datetime) -> DigestRecord | None:
        """The digest of exactly this period (the first one, if an older version made several)."""
        with self.session() as session:
            query = (
                select(DigestRow)
                .where(DigestRow.period_start == start, DigestRow.period_end == end)
                .order_by(DigestRow.id)
                .limit(1)
            )
            row = session.scalar(query)
            return _digest(row) if row is not None else None

    def save_digest(self, *, start: datetime, end: datetime, path: str, item_count: int, at: datetime) -> DigestRecord:
        """Record the digest of a period, or update the one already recorded for it."""
        with self.session() as session, session.begin():
            query = (
                select(DigestRow)
                .where(DigestRow.period_start == start, DigestRow.period_end == end)
                .order_by(DigestRow.id)
                .limit(1)
            )
            row = session.scalar(query)
            if row is None:
                row = DigestRow(period_start=start, period_end=end, created_at=at)
                session.add(row)
            row.path, row.item_count = path, item_count
            session.flush()
            return _digest(row)

    def digest_path_owner(self, path: str) -> int | None:
        """The id of a digest whose file is `path`, if any."""
        with self.session() as session:
            return session.scalar(select(DigestRow.id).where(DigestRow.path == path).order_by(DigestRow.id).limit(1))

    def deliveries(self, digest_id: int) -> dict[str, DeliveryRecord]:
        with self.session() as session:
            rows = session.scalars(select(DeliveryRow).where(DeliveryRow.digest_id == digest_id))
            return {row.channel: _delivery(row) for row in rows}

    def record_delivery(
        self,
        digest_id: int,
        channel: str,
        *,
        at: datetime,
        error: str | None = None,
        detail: str | None = None,
    ) -> DeliveryRecord:
        """Record one attempt on a channel: delivered when `error` is None, else failed."""
        with self.session() as session, session.begin():
            row = session.get(DeliveryRow, (digest_id, channel))
            if row is None:
                row = DeliveryRow(digest_id=digest_id, channel=channel, attempts=0)
                session.add(row)
            row.attempts = (row.attempts or 0) + 1
            row.last_attempt_at = at
            row.detail = detail if detail is not None else row.detail
            if error is None:
                row.status, row.last_error, row.delivered_at = "sent", None, at
            elif row.status != "sent":  # a failure never undoes a delivery (another process's)
                row.status, row.last_error = "failed", error
            session.flush()
            return _delivery(row)

    def undelivered(self, channel: str) -> list[tuple[DigestRecord, DeliveryRecord]]:
        """Digests whose delivery on `channel` was tried and failed, oldest period first."""
        with self.session() as session:
            query = (
                select(DigestRow, DeliveryRow)
                .join(DeliveryRow, DeliveryRow.digest_id == DigestRow.id)
                .where(DeliveryRow.channel == channel, DeliveryRow.status != "sent")
                .order_by(DigestRow.period_end, DigestRow.id)
            )
            return [(_digest(d), _delivery(r)) for d, r in session.execute(query)]


def _digest(row: DigestRow) -> DigestRecord:
    return DigestRecord(row.id, row.period_start, row.period_end, row.path, row.item_count, row.created_at)


def _delivery(row: DeliveryRow) -> DeliveryRecord:
    return DeliveryRecord(
        digest_id=row.digest_id,
        channel=row.channel,
        status=row.status,
        attempts=row.attempts or 0,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
        detail=row.detail,
    )
