"""Legimi claims at HTTP speed: the per-card limit of the claim endpoint in the database,
so that several `web` workers count one reader's claims together.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim_limit",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_claim_limit")),
    )


def downgrade() -> None:
    op.drop_table("claim_limit")
