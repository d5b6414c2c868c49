"""A source's poll in the database: its success (inside the batch's transaction), its error,
and the next poll of each source of a cycle with the cycle's 304s. Mixed into SqlRepository.

A success and the next polls are written for every source of every cycle, so their statements
are built once, in Core on the table: an ORM `update(SourceRow)` also works out which loaded
objects it changes, and a cycle of 304s spent most of its database time on that. (An error, rarer,
keeps its ORM update.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, func, literal, update
from sqlalchemy.orm import Session

from monitor.records import SourceOutcome
from monitor.storage.tables import SourceRow, UTCDateTime, table_of

_SOURCES = table_of(SourceRow)
_RECORD_SUCCESS = (
    update(_SOURCES)
    .where(_SOURCES.c.id == bindparam("source"))
    .values(
        {
            name: bindparam(f"new_{name}")
            for name in (
                "etag",
                "last_modified",
                "last_polled_at",
                "last_success_at",
                "last_status",
                "consecutive_errors",
                "last_error",
                "failing_since",
            )
        }
    )
)
_SCHEDULE_POLL = (
    update(_SOURCES).where(_SOURCES.c.id == bindparam("source")).values(next_poll_at=bindparam("new_next_poll_at"))
)


class PollStore:
    """Mixed into SqlRepository: the sources' poll bookkeeping."""

    def session(self) -> Session:  # provided by SqlRepository
        raise NotImplementedError

    def record_success(
        self,
        session: Session,
        source_id: str,
        *,
        at: datetime,
        status: str,
        etag: str | None,
        last_modified: str | None,
    ) -> None:
        """Mark a download stored; called inside the batch's transaction so both land together.
        The next poll is not set here but by `schedule_polls`, once the items' follow-up work
        (articles, judging) is done or handed on: a poll cut short stays due."""
        session.execute(_RECORD_SUCCESS, _success(source_id, at, status, etag, last_modified))

    def schedule_polls(self, outcomes: Iterable[SourceOutcome]) -> None:
        """Set each source's next poll and record its 304, if it had one, in one transaction
        (one executemany each).

        Why a 304 waits for this rather than having a transaction of its own: it stores nothing,
        and its source stays due until its next poll is set here anyway, so a cycle cut short
        loses nothing by not having recorded it; a transaction per 304 was a sixth of an
        unchanged re-run of 500 feeds."""
        outcomes = [o for o in outcomes if o.next_poll_at is not None]
        if not outcomes:
            return
        unchanged = [(o.source_id, o.not_modified) for o in outcomes if o.not_modified is not None]
        with self.session() as session, session.begin():
            if unchanged:
                marks = [_success(s, m.at, "not_modified", m.etag, m.last_modified) for s, m in unchanged]
                session.execute(_RECORD_SUCCESS, marks)
            next_polls = [{"source": o.source_id, "new_next_poll_at": o.next_poll_at} for o in outcomes]
            session.execute(_SCHEDULE_POLL, next_polls)

    def record_error(self, source_id: str, *, at: datetime, message: str, next_poll_at: datetime | None = None) -> None:
        with self.session() as session, session.begin():
            session.execute(
                update(SourceRow)
                .where(SourceRow.id == source_id)
                .values(
                    last_polled_at=at,
                    last_status="error",
                    consecutive_errors=SourceRow.consecutive_errors + 1,
                    last_error=message,
                    last_error_at=at,
                    next_poll_at=next_poll_at,
                    failing_since=func.coalesce(SourceRow.failing_since, literal(at, UTCDateTime())),
                )
            )


def _success(
    source_id: str, at: datetime, status: str, etag: str | None, last_modified: str | None
) -> dict[str, object]:
    """The parameters of `_RECORD_SUCCESS` for one source."""
    return {
        "source": source_id,
        "new_etag": etag,
        "new_last_modified": last_modified,
        "new_last_polled_at": at,
        "new_last_success_at": at,
        "new_last_status": status,
        "new_consecutive_errors": 0,
        "new_last_error": None,
        "new_failing_since": None,
    }
