"""The repository's queries of pending work read their partial indexes (migration 0013), on
SQLite and on PostgreSQL. A database uses a partial index only for a query whose condition it
can match to the index's: a query spelt otherwise (`IS true` for `= true`, a term dropped) still
returns the right rows, but every cycle and worker tick then reads every irrelevant item again.
The queries and the indexes share one spelling (`tables.relevant_original`, `tables.to_judge`);
this runs the repository's own statements (captured as they are sent) under EXPLAIN.

PostgreSQL's planner is told not to scan the table (an empty table is cheaper to scan than any
index): what is asked is whether it *can* use the index, which only a matched predicate allows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from monitor.storage import SqlRepository, open_database
from tests.pgserver import PgServer

# each repository call, and the partial index its query on `item` must be able to read
CALLS: dict[str, tuple[Callable[[SqlRepository], object], str]] = {
    "has_unfinished_items": (lambda r: r.has_unfinished_items(), "ix_item_to_judge"),
    "has_unfinished_items before": (
        lambda r: r.has_unfinished_items(fetched_before=datetime(2026, 1, 1, tzinfo=UTC)),
        "ix_item_to_judge",
    ),
    "items_to_match": (lambda r: r.items_to_match(limit=10), "ix_item_to_judge"),
    "items_needing_article": (
        lambda r: r.items_needing_article("s", include_irrelevant=False, limit=5),
        "ix_item_article_pending",
    ),
}


def statements(engine: Engine, call: Callable[[SqlRepository], object]) -> list[tuple[str, Any]]:
    """The SELECTs on `item` that `call` sends, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and " item" in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        call(SqlRepository(engine))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return sent


def plans(engine: Engine, call: Callable[[SqlRepository], object]) -> list[str]:
    sqlite = engine.dialect.name == "sqlite"
    found = []
    with engine.connect() as connection:
        if not sqlite:
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements(engine, call):
            explain = ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement
            rows = connection.exec_driver_sql(explain, parameters).all()
            found.append(" ".join(str(value) for row in rows for value in row))
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'monitor.db'}"
    else:
        pg: PgServer = request.getfixturevalue("pg")
        url = pg.create_database("partial_indexes")
    engine = open_database(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", list(CALLS))
def test_the_queries_of_pending_work_can_read_their_partial_index(engine: Engine, name: str) -> None:
    call, index = CALLS[name]
    found = plans(engine, call)
    assert found, f"{name} sent no query on item"
    unjudged = [p for p in found if index in p]
    assert unjudged, f"{name}: no query reads {index}; plans: {found}"
