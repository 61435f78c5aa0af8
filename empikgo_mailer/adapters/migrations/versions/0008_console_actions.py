"""Console actions: the rules behind each mail decision, who settled a set-aside
message, and the address every audited action came from.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rules", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("handled_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_event_actor", ["actor", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_actor")
        batch_op.drop_column("address")
    with op.batch_alter_table("mail_request", schema=None) as batch_op:
        batch_op.drop_column("handled_by")
        batch_op.drop_column("rules")
