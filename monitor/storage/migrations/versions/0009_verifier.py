"""verifier: the language model's verdicts (cached), its word on flags, items awaiting it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from monitor.storage.tables import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verdict",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=True),
        sa.Column("quote", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_verdict")),
    )
    # plain ADD COLUMN (SQLite takes them, with a default for the NOT NULL one): a batch would
    # copy the item table, which others reference
    for column in (
        sa.Column("verification", sa.String(length=16), nullable=True),
        sa.Column("verified_by", sa.String(length=200), nullable=True),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("verifier_reason", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
    ):
        op.add_column("flag", column)
    op.add_column("item", sa.Column("verify_pending", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("cycle", sa.Column("verifier", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cycle") as batch:
        batch.drop_column("verifier")
    with op.batch_alter_table("item") as batch:
        batch.drop_column("verify_pending")
    with op.batch_alter_table("flag") as batch:
        for column in ("confidence", "verifier_reason", "verified_at", "verified_by", "verification"):
            batch.drop_column(column)
    op.drop_table("verdict")
