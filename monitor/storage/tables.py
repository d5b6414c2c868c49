"""The database schema as SQLAlchemy 2.0 typed ORM tables. Portable SQL: SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, plain UTC in the database (SQLite has no zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        when: datetime = value
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(row: type[Base]) -> Table:
    """The Core table of a mapped class. Bulk inserts go through it: `insert(ItemRow)` with a
    list of rows takes the ORM's bulk path (per-row bookkeeping, several times slower than the
    Core executemany it ends in)."""
    table = row.__table__
    assert isinstance(table, Table)
    return table


class SourceRow(Base):
    __tablename__ = "source"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first error after the last success


_UNJUDGED_ORIGINAL = "duplicate_of IS NULL AND matched_at IS NULL"
_ARTICLE_PENDING = "duplicate_of IS NULL AND article_status IS NULL"


class ItemRow(Base):
    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("source_id", "guid"),
        UniqueConstraint("source_id", "canonical_url"),
        Index(None, "canonical_url"),
        Index(None, "content_hash"),
        Index(None, "fetched_at"),
        Index(None, "published_at"),
        Index(None, "story_id"),
        # The relevant originals not judged yet (`items_to_match`, `has_unfinished_items`), and only
        # they: every item never to be judged (irrelevant, a copy) has matched_at NULL too, so an
        # index on matched_at had each cycle and worker tick read all of them (migration 0013).
        Index(
            "ix_item_to_judge",
            "id",
            sqlite_where=text(f"relevant = 1 AND {_UNJUDGED_ORIGINAL}"),  # as the queries say it, term by term
            postgresql_where=text(f"relevant AND {_UNJUDGED_ORIGINAL}"),
        ),
        # The relevant originals of a source whose article was never tried (`[poll] article =
        # "relevant"`, the default; `items_needing_article` at every poll): the irrelevant ones
        # are never tried, so without it every poll read all of its source's items.
        Index(
            "ix_item_article_pending",
            "source_id",
            "id",
            sqlite_where=text(f"relevant = 1 AND {_ARTICLE_PENDING}"),
            postgresql_where=text(f"relevant AND {_ARTICLE_PENDING}"),
        ),
        Index(None, "clustered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("source.id"))
    guid: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    date_note: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("item.id"))
    story_id: Mapped[int | None] = mapped_column(Integer)
    relevant: Mapped[bool] = mapped_column(Boolean, default=True)
    relevant_why: Mapped[str | None] = mapped_column(Text)
    article_status: Mapped[str | None] = mapped_column(String(16))
    article_error: Mapped[str | None] = mapped_column(Text)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    clustered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the verifier has questions on this item not answered yet (budget spent, server down)
    verify_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


def relevant_original() -> ColumnElement[bool]:
    """A relevant item that is no copy: what the judge reads. `= true`, not `IS true`: PostgreSQL
    matches only the former to the partial indexes of `ItemRow` that say `relevant`."""
    return and_(ItemRow.relevant == true(), ItemRow.duplicate_of.is_(None))


def to_judge() -> ColumnElement[bool]:
    """A relevant original not judged yet, as `ix_item_to_judge` says it (one spelling for the
    queries that read that index, so that they keep matching it)."""
    return and_(relevant_original(), ItemRow.matched_at.is_(None))


class StoryRow(Base):
    """Items that report one event: id is its first item's id; counts are read from the items."""

    __tablename__ = "story"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FlagRow(Base):
    """What an item does to a claim: once per (claim, item); review state survives re-matching."""

    __tablename__ = "flag"
    __table_args__ = (UniqueConstraint("claim_id", "item_id"), Index(None, "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(32), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    relation: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)
    why: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="new")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the verifier's word (null: no verifier): verified | unverified | failed, see models.Verification
    verification: Mapped[str | None] = mapped_column(String(16))
    verified_by: Mapped[str | None] = mapped_column(String(200))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verifier_reason: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)


class VerdictRow(Base):
    """The verifier's answer to one question (monitor.judge.verifier.question_key: item content,
    claim text, model, prompt version): a rematch or a restart never pays for it twice."""

    __tablename__ = "verdict"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # ok | invalid | error
    relation: Mapped[str | None] = mapped_column(String(16))
    quote: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestRow(Base):
    __tablename__ = "digest"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    path: Mapped[str | None] = mapped_column(Text)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CycleRow(Base):
    """One poll cycle: what it polled and how it went (`finished_at` is null while it runs)."""

    __tablename__ = "cycle"
    __table_args__ = (Index(None, "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    sources: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    not_modified: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[str | None] = mapped_column(Text)  # JSON: [[source_id, error], ...]
    verifier: Mapped[str | None] = mapped_column(Text)  # JSON: the verifier's calls, tokens, failures


class LockRow(Base):
    """A named lock on the database: one row while held, refreshed by its holder's heartbeat."""

    __tablename__ = "lock"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(64))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryRow(Base):
    """A digest on one channel (file, email, atom): how it went. A sent one is never sent again."""

    __tablename__ = "delivery"

    digest_id: Mapped[int] = mapped_column(ForeignKey("digest.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text)  # where: a path, the recipients


class ItemVectorRow(Base):
    """The judge's sentence vectors of an item, stored once so that a rematch or a new claim
    costs no re-embedding. `key` identifies the embedded sentences (a changed text is embedded
    again); rows are float16, half the space, cosines within 1e-3 of float32."""

    __tablename__ = "item_vector"

    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), primary_key=True)
    encoder: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    dim: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationRow(Base):
    """One message on one notification channel (a `[[notify]]` target's URL): `pending`, then
    `sending` (committed before the send: found so after a crash, it may have gone out), then
    `sent`, or `failed` with when to try again. (channel, key) is unique: an event is told once."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("channel", "key"), Index(None, "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    attach: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    interrupted: Mapped[int] = mapped_column(Integer, default=0)  # sends cut short by a crash
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
