"""Where a collect under way has got to, in receipt order, kept in the mailbox's row: the
decide runner decides the queue only up to the first message still to read, whichever
thread or process collects (it used to be told by the collect, through a callback).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox_state") as table:
        table.add_column(sa.Column("uncollected_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("uncollected_uid", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailbox_state") as table:
        table.drop_column("uncollected_uid")
        table.drop_column("uncollected_at")
