"""index pending work: the items to judge and the articles to try, partial indexes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 00:40:00

Every item not judged has `matched_at` NULL, and so does every item never to be judged (not
relevant, or a copy): with `matched_at` alone indexed, "the relevant originals not judged yet"
(`items_to_match`, `has_unfinished_items`, each cycle and each worker tick) read every irrelevant
item and copy ever stored, a cost growing with the database (and PostgreSQL walked the primary
key instead). A partial index of those items alone: the lookup reads only what it returns, and
the index stays as small as the work waiting. The same for the relevant originals whose article
was never tried (`items_needing_article`, every poll of a source in the default `article =
"relevant"` mode): every irrelevant item of the source was read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None
# as of this revision (tables.py may move on)
UNJUDGED_ORIGINAL = "duplicate_of IS NULL AND matched_at IS NULL"
ARTICLE_PENDING = "duplicate_of IS NULL AND article_status IS NULL"


def upgrade() -> None:
    # Not in a batch: an index needs no copy of the table on SQLite (a copy would lose the
    # search triggers of 0012).
    op.drop_index("ix_item_matched_at", table_name="item")
    op.create_index(
        "ix_item_to_judge",
        "item",
        ["id"],
        sqlite_where=sa.text(f"relevant = 1 AND {UNJUDGED_ORIGINAL}"),
        postgresql_where=sa.text(f"relevant AND {UNJUDGED_ORIGINAL}"),
    )
    op.create_index(
        "ix_item_article_pending",
        "item",
        ["source_id", "id"],
        sqlite_where=sa.text(f"relevant = 1 AND {ARTICLE_PENDING}"),
        postgresql_where=sa.text(f"relevant AND {ARTICLE_PENDING}"),
    )


def downgrade() -> None:
    op.drop_index("ix_item_article_pending", table_name="item")
    op.drop_index("ix_item_to_judge", table_name="item")
    op.create_index("ix_item_matched_at", "item", ["matched_at"])
