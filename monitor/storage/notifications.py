"""The notification ledger: each message on each channel, once (unique channel and key), with
its attempts. An attempt is committed as `sending` before the message goes out and as `sent`
after, so a crash in between leaves a row that says the message may have been delivered."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.records import NotificationRecord
from monitor.storage.tables import NotificationRow

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


class NotificationStore:
    """Mixed into SqlRepository: the notification half of the repository."""

    def session(self) -> Session:  # provided by SqlRepository
        raise NotImplementedError

    def enqueue_notification(
        self, channel: str, key: str, *, kind: str, title: str, body: str, attach: str | None, at: datetime
    ) -> bool:
        """Add a message for `channel` unless its key is already there; True if added."""
        with self.session() as session, session.begin():
            found = session.scalar(
                select(NotificationRow.id).where(NotificationRow.channel == channel, NotificationRow.key == key)
            )
            if found is not None:
                return False
            session.add(
                NotificationRow(
                    channel=channel,
                    key=key,
                    kind=kind,
                    title=title,
                    body=body,
                    attach=attach,
                    status=PENDING,
                    attempts=0,
                    interrupted=0,
                    created_at=at,
                    next_attempt_at=at,
                )
            )
            return True

    def notification_keys(self, channel: str, prefix: str = "") -> set[str]:
        """The keys a channel holds (those starting with `prefix`)."""
        with self.session() as session:
            query = select(NotificationRow.key).where(NotificationRow.channel == channel)
            if prefix:
                query = query.where(NotificationRow.key.startswith(prefix, autoescape=True))
            return set(session.scalars(query))

    def due_notifications(self, channels: Iterable[str], now: datetime) -> list[NotificationRecord]:
        """Messages of these channels to send now: new, failed and due again, or cut short, oldest first."""
        with self.session() as session:
            query = (
                select(NotificationRow)
                .where(
                    NotificationRow.channel.in_(list(channels)),
                    NotificationRow.status != SENT,
                    NotificationRow.next_attempt_at <= now,
                )
                .order_by(NotificationRow.id)
            )
            return [_record(row) for row in session.scalars(query)]

    def begin_notification(self, notification_id: int, at: datetime) -> NotificationRecord:
        """Commit the start of an attempt (before the send). A row still `sending` was cut short
        by a crash after it may have gone out: counted in `interrupted`."""
        with self.session() as session, session.begin():
            row = session.get_one(NotificationRow, notification_id)
            if row.status == SENDING:
                row.interrupted += 1
            row.status, row.attempts, row.last_attempt_at, row.next_attempt_at = SENDING, row.attempts + 1, at, at
            session.flush()
            return _record(row)

    def finish_notification(
        self, notification_id: int, at: datetime, *, error: str | None = None, retry_at: datetime | None = None
    ) -> NotificationRecord:
        """Record how an attempt went: sent, or failed and due again at `retry_at`."""
        with self.session() as session, session.begin():
            row = session.get_one(NotificationRow, notification_id)
            if error is None:
                row.status, row.sent_at, row.last_error = SENT, at, None
            else:
                row.status, row.last_error, row.next_attempt_at = FAILED, error, retry_at or at
            session.flush()
            return _record(row)

    def notifications(self, *, limit: int = 50, channels: Sequence[str] | None = None) -> list[NotificationRecord]:
        """The newest messages, newest first."""
        with self.session() as session:
            query = select(NotificationRow).order_by(NotificationRow.id.desc()).limit(limit)
            if channels is not None:
                query = query.where(NotificationRow.channel.in_(list(channels)))
            return [_record(row) for row in session.scalars(query)]

    def unsent_notifications(self, *, limit: int = 20) -> list[NotificationRecord]:
        """Messages tried and not sent (failed, or cut short), oldest first."""
        with self.session() as session:
            query = (
                select(NotificationRow)
                .where(NotificationRow.status.in_([FAILED, SENDING]))
                .order_by(NotificationRow.id)
                .limit(limit)
            )
            return [_record(row) for row in session.scalars(query)]

    def notification_counts(self) -> dict[str, int]:
        """How many messages are in each status."""
        with self.session() as session:
            query = select(NotificationRow.status, func.count()).group_by(NotificationRow.status)
            return {status: int(n) for status, n in session.execute(query)}


def _record(row: NotificationRow) -> NotificationRecord:
    return NotificationRecord(
        id=row.id,
        channel=row.channel,
        key=row.key,
        kind=row.kind,
        title=row.title,
        body=row.body,
        attach=row.attach,
        status=row.status,
        attempts=row.attempts,
        interrupted=row.interrupted,
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        sent_at=row.sent_at,
    )
