"""Flags in the database: stored once per (claim, item), review state kept across re-matching."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from monitor.records import Decision, StoredFlag, StoredItem, Verification, VerifierAnswer, VerifierOutcome
from monitor.storage.db import in_chunks
from monitor.storage.rows import item_record
from monitor.storage.tables import FlagRow, ItemRow, VerdictRow, relevant_original, table_of

REVIEWED = ("confirmed", "dismissed")


def _new_flag(item_id: int, d: Decision, at: datetime) -> dict[str, object]:
    return {
        "claim_id": d.claim_id,
        "item_id": item_id,
        "relation": d.relation,
        "score": d.score,
        "evidence": d.evidence,
        "why": d.why,
        "state": "new",
        "created_at": at,
        "updated_at": at,
        **_verification_columns(d.verification),
    }


def _verification_columns(v: Verification | None) -> dict[str, Any]:
    return {
        "verification": v.status if v else None,
        "verified_by": (v.model or None) if v else None,
        "verified_at": v.at if v else None,
        "verifier_reason": v.reason if v else None,
        "confidence": v.confidence if v else None,
    }


def _verification(row: FlagRow) -> Verification | None:
    if row.verification is None:
        return None
    return Verification(row.verification, row.verified_by or "", row.verified_at, row.verifier_reason, row.confidence)


class FlagStore:
    """Mixed into SqlRepository: the flag half of the repository."""

    def session(self) -> Session:  # provided by SqlRepository
        raise NotImplementedError

    def items_to_match(
        self,
        *,
        source_id: str | None = None,
        since: datetime | None = None,
        again: bool = False,
        pending: bool = False,
        after: int | None = None,
        limit: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[StoredItem]:
        """Relevant original items not matched yet (or all of them, `again`; with `pending`,
        also those the verifier has questions on), by id: those after the id `after`, at most
        `limit` of them (a next call goes on after the last); with `ids`, among those alone."""
        query = select(ItemRow).where(relevant_original())
        if source_id is not None:
            query = query.where(ItemRow.source_id == source_id)
        if since is not None:
            query = query.where(ItemRow.published_at >= since)
        if not again:  # `to_judge()`, term by term
            waiting = ItemRow.matched_at.is_(None)
            query = query.where(or_(waiting, ItemRow.verify_pending.is_(True)) if pending else waiting)
        if after is not None:
            query = query.where(ItemRow.id > after)
        parts = [query] if ids is None else [query.where(ItemRow.id.in_(part)) for part in in_chunks(sorted(ids))]
        with self.session() as session:
            rows = [row for part in parts for row in session.scalars(part.order_by(ItemRow.id).limit(limit))]
        return [item_record(row) for row in rows[:limit]]

    def save_matches(
        self,
        results: Sequence[tuple[int, Sequence[Decision]]],
        at: datetime,
        pending: Collection[int] = (),
        failed: Collection[int] = (),
    ) -> None:
        """Store each item's decisions in one transaction. A flag already stored keeps its review
        state and note; an unreviewed flag the matcher no longer gives is removed. `pending`: the
        items the verifier has questions on still (matched again next cycle). `failed`: items
        the judge failed on, marked judged with their flags left as they are (not judged again
        at every cycle; `monitor rematch` judges them again).

        In bulk (a few statements per 500 items, new flags in one executemany): per-item
        queries made matching cost several times the matcher's own time."""
        ids = [item_id for item_id, _ in results]
        with self.session() as session, session.begin():
            existing: dict[int, dict[str, FlagRow]] = {}
            for part in in_chunks(ids):
                for row in session.scalars(select(FlagRow).where(FlagRow.item_id.in_(part))):
                    existing.setdefault(row.item_id, {})[row.claim_id] = row
            new: list[dict[str, object]] = []
            stale: list[int] = []
            for item_id, decisions in results:
                flags = existing.pop(item_id, {})
                for d in decisions:
                    flag = flags.pop(d.claim_id, None)
                    if flag is None:
                        new.append(_new_flag(item_id, d, at))
                    elif (flag.relation, flag.score, flag.evidence, _verification(flag)) != (
                        d.relation,
                        d.score,
                        d.evidence,
                        d.verification,
                    ):
                        flag.relation, flag.score, flag.evidence, flag.why, flag.updated_at = (
                            d.relation,
                            d.score,
                            d.evidence,
                            d.why,
                            at,
                        )
                        for column, value in _verification_columns(d.verification).items():
                            setattr(flag, column, value)
                stale += [f.id for f in flags.values() if f.state not in REVIEWED]
            for part in in_chunks(stale):
                session.execute(delete(FlagRow).where(FlagRow.id.in_(part)))
            if new:
                session.execute(insert(table_of(FlagRow)), new)
            waiting = set(pending)
            for part in in_chunks(ids):
                for flagged in (True, False):
                    some = [i for i in part if (i in waiting) == flagged]
                    if some:
                        values = {"matched_at": at, "verify_pending": flagged}
                        session.execute(update(ItemRow).where(ItemRow.id.in_(some)).values(**values))
            for part in in_chunks(sorted(failed)):
                session.execute(update(ItemRow).where(ItemRow.id.in_(part)).values(matched_at=at, verify_pending=False))

    def count_verify_pending(self) -> int:
        """Items the verifier has questions on that no cycle could ask yet."""
        with self.session() as session:
            query = select(func.count()).select_from(ItemRow).where(ItemRow.verify_pending.is_(True))
            return int(session.scalar(query) or 0)

    def load_verdicts(self, keys: Iterable[str]) -> dict[str, VerifierOutcome]:
        """The verifier's stored outcomes of these questions."""
        found: dict[str, VerifierOutcome] = {}
        with self.session() as session:
            for part in in_chunks(sorted(set(keys))):
                for row in session.scalars(select(VerdictRow).where(VerdictRow.key.in_(part))):
                    answer = None
                    if row.status == "ok" and row.relation is not None:
                        answer = VerifierAnswer(row.relation, row.quote or "", row.reason or "", row.confidence or 0.0)
                    found[row.key] = VerifierOutcome(
                        row.key, row.status, row.model, row.at, answer, row.error, row.attempts, 0, row.tokens
                    )
        return found

    def save_verdicts(self, outcomes: Iterable[VerifierOutcome]) -> None:
        """Store outcomes, each replacing an earlier one of its question (an `error` asked again)."""
        rows = [
            {
                "key": o.key,
                "model": o.model,
                "status": o.status,
                "relation": o.answer.relation if o.answer else None,
                "quote": o.answer.quote if o.answer else None,
                "reason": o.answer.reason if o.answer else None,
                "confidence": o.answer.confidence if o.answer else None,
                "error": o.error,
                "attempts": o.attempts,
                "tokens": o.tokens,
                "at": o.at,
            }
            for o in outcomes
        ]
        if not rows:
            return
        with self.session() as session, session.begin():
            for part in in_chunks([r["key"] for r in rows]):
                session.execute(delete(VerdictRow).where(VerdictRow.key.in_(part)))
            session.execute(insert(table_of(VerdictRow)), rows)

    def list_flags(
        self,
        *,
        claim_id: str | None = None,
        state: str | None = None,
        since: datetime | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[StoredFlag]:
        """Flags newest item first, each with its item and the outlets carrying it."""

        query = select(FlagRow, ItemRow).join(ItemRow, FlagRow.item_id == ItemRow.id)
        if claim_id is not None:
            query = query.where(FlagRow.claim_id == claim_id)
        if state is not None:
            query = query.where(FlagRow.state == state)
        if since is not None:
            query = query.where(FlagRow.created_at >= since)
        if ids is not None:
            query = query.where(FlagRow.id.in_(list(ids)))
        query = query.order_by(ItemRow.published_at.desc(), FlagRow.id)
        with self.session() as session:
            rows = session.execute(query).all()
            item_ids = sorted({item.id for _flag, item in rows})
            copies: dict[int, set[str]] = {}
            for start in range(0, len(item_ids), 500):
                part = item_ids[start : start + 500]
                for original, source in session.execute(
                    select(ItemRow.duplicate_of, ItemRow.source_id).where(ItemRow.duplicate_of.in_(part))
                ):
                    copies.setdefault(int(original or 0), set()).add(source)
            return [
                StoredFlag(
                    id=flag.id,
                    claim_id=flag.claim_id,
                    relation=flag.relation,
                    score=flag.score,
                    evidence=flag.evidence,
                    why=flag.why,
                    state=flag.state,
                    note=flag.note,
                    created_at=flag.created_at,
                    reviewed_at=flag.reviewed_at,
                    item=item_record(item),
                    sources=(item.source_id, *sorted(copies.get(item.id, set()) - {item.source_id})),
                    verification=_verification(flag),
                )
                for flag, item in rows
            ]

    def review_flag(self, flag_id: int, state: str, note: str | None, at: datetime) -> bool:
        """Confirm or dismiss a flag; False when there is no such flag."""
        with self.session() as session, session.begin():
            flag = session.get(FlagRow, flag_id)
            if flag is None:
                return False
            flag.state, flag.reviewed_at = state, at
            if note is not None:
                flag.note = note
            return True
