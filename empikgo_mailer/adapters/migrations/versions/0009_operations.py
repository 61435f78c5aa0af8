"""Running it for real: the daemon's heartbeat, every link's error count, and the copy of
each reply appended to the branch mailbox's Sent folder.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeat",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("pass_seconds", sa.Float(), nullable=False),
        sa.Column("last_good_pass_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_heartbeat")),
    )
    with op.batch_alter_table("link_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("errors_total", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copied_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("copy_error", sa.Text(), nullable=True))
    # Replies sent before this version are not copied after the fact: staff would find
    # months of old answers appearing in their Sent folder at once.
    op.execute("UPDATE outbox SET copied_at = sent_at WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("copy_error")
        batch_op.drop_column("copied_at")
    with op.batch_alter_table("link_state", schema=None) as batch_op:
        batch_op.drop_column("errors_total")
    op.drop_table("heartbeat")
