"""The replies waiting for their copy in Sent, in a partial index of their own: a copy
round read every sent reply of every month (by `ix_outbox_due`'s status) and sorted them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COPY_NOT_MADE = sa.text("copied_at IS NULL AND copy_error IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_copy_waiting",
        "outbox",
        ["branch_id", "status", "sent_at", "id"],
        sqlite_where=COPY_NOT_MADE,
        postgresql_where=COPY_NOT_MADE,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_copy_waiting", table_name="outbox")
