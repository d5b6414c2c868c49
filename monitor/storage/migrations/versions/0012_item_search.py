"""item search: an FTS5 index of items' folded words (SQLite), and the items it must (re)index

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:30:00

On SQLite: `item_search` (FTS5, rowid = item id) holds each item's title and text folded the
way matching folds them (traditional -> simplified, full-width -> half-width, case), every Han
character a word of its own, so a query in either script finds a word anywhere in the text.
Folding needs OpenCC, which SQL cannot call: triggers only note an item as `item_search_dirty`
when it is stored or its text changes, and `monitor.storage.search` indexes the noted items
before it searches. Every item stored before this migration is noted once here. On other
databases nothing is created: the web side falls back to a plain substring search there.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE VIRTUAL TABLE item_search USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2')")
    op.execute("CREATE TABLE item_search_dirty (item_id INTEGER PRIMARY KEY)")
    op.execute(
        "CREATE TRIGGER item_search_new AFTER INSERT ON item BEGIN "
        "INSERT OR IGNORE INTO item_search_dirty (item_id) VALUES (new.id); END"
    )
    op.execute(
        "CREATE TRIGGER item_search_changed AFTER UPDATE OF title, summary, text ON item BEGIN "
        "INSERT OR IGNORE INTO item_search_dirty (item_id) VALUES (new.id); END"
    )
    op.execute(
        "CREATE TRIGGER item_search_gone AFTER DELETE ON item BEGIN "
        "DELETE FROM item_search WHERE rowid = old.id; DELETE FROM item_search_dirty WHERE item_id = old.id; END"
    )
    op.execute("INSERT INTO item_search_dirty (item_id) SELECT id FROM item")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("item_search_new", "item_search_changed", "item_search_gone"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS item_search_dirty")
    op.execute("DROP TABLE IF EXISTS item_search")
