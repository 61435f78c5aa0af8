"""Mail door reliability: every message recorded (content hash, duplicates, filing errors),
outbox rows claimed with a lease before sending, and the health of each link.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail_request", schema=None) as batch_op:
        # Two copies of one request are two rows now (the second filed as a duplicate);
        # the message's place in the mailbox is what is unique.
        batch_op.drop_constraint("uq_mail_request_branch_id_fingerprint", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_mail_request_branch_id_uidvalidity_uid"),
            ["branch_id", "uidvalidity", "uid"],
        )
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("cards", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("name_words", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("filing_error", sa.Text(), nullable=True))
        batch_op.alter_column(
            "size", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )
        batch_op.create_index(
            "ix_mail_request_fingerprint", ["branch_id", "fingerprint"], unique=False
        )
        batch_op.create_index(
            "ix_mail_request_content", ["branch_id", "content_hash"], unique=False
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "link_state",
        sa.Column("link", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("link", name=op.f("pk_link_state")),
    )


def downgrade() -> None:
    op.drop_table("link_state")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("last_attempt_at")
    with op.batch_alter_table("mail_request", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_request_content")
        batch_op.drop_index("ix_mail_request_fingerprint")
        batch_op.alter_column(
            "size", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
        batch_op.drop_column("filing_error")
        batch_op.drop_column("name_words")
        batch_op.drop_column("cards")
        batch_op.drop_column("content_hash")
        batch_op.drop_constraint(
            batch_op.f("uq_mail_request_branch_id_uidvalidity_uid"), type_="unique"
        )
        batch_op.create_unique_constraint(
            "uq_mail_request_branch_id_fingerprint", ["branch_id", "fingerprint"]
        )
