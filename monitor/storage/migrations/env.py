"""Alembic environment: runs on the engine the monitor hands over."""

from __future__ import annotations

from alembic import context

from monitor.storage.search import is_search_table
from monitor.storage.tables import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # the item search index (FTS5, migration 0012) lives outside the ORM's metadata
        include_name=lambda name, kind, _parents: not (kind == "table" and is_search_table(name)),
    )
    with context.begin_transaction():
        context.run_migrations()
