"""Initial schema: patrons, code pools, issuances, bans and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 22:46:43.064433
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("card_number", sa.String(length=32), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_card_number"), ["card_number"], unique=False
        )

    op.create_table(
        "code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("branch_id", sa.String(length=32), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code")),
        sa.UniqueConstraint("platform", "value", name=op.f("uq_code_platform_value")),
    )
    with op.batch_alter_table("code", schema=None) as batch_op:
        batch_op.create_index(
            "ix_code_pool", ["platform", "month", "branch_id", "status", "id"], unique=False
        )

    op.create_table(
        "patron",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_number", sa.String(length=32), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("contact_confirmed_on", sa.Date(), nullable=True),
        sa.Column("opening_balance_grosze", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patron")),
        sa.UniqueConstraint("card_number", name=op.f("uq_patron_card_number")),
    )
    op.create_table(
        "ban",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("cause_month", sa.String(length=7), nullable=False),
        sa.Column("first_month", sa.String(length=7), nullable=False),
        sa.Column("last_month", sa.String(length=7), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["patron_id"], ["patron.id"], name=op.f("fk_ban_patron_id_patron")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ban")),
        sa.UniqueConstraint("patron_id", "cause_month", name=op.f("uq_ban_patron_id_cause_month")),
    )
    with op.batch_alter_table("ban", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ban_patron_id"), ["patron_id"], unique=False)

    op.create_table(
        "issuance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("branch_id", sa.String(length=32), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["code.id"], name=op.f("fk_issuance_code_id_code")),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patron.id"], name=op.f("fk_issuance_patron_id_patron")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuance")),
        sa.UniqueConstraint("code_id", name=op.f("uq_issuance_code_id")),
        sa.UniqueConstraint("patron_id", "month", name=op.f("uq_issuance_patron_id_month")),
    )


def downgrade() -> None:
    op.drop_table("issuance")
    with op.batch_alter_table("ban", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ban_patron_id"))

    op.drop_table("ban")
    op.drop_table("patron")
    with op.batch_alter_table("code", schema=None) as batch_op:
        batch_op.drop_index("ix_code_pool")

    op.drop_table("code")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_card_number"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))

    op.drop_table("audit_event")
