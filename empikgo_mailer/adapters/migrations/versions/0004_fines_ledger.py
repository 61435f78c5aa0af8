"""The fines ledger: loans (whose fines are computed from their dates) and payments.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:01:56.450481
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("item_barcode", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("borrowed_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=True),
        sa.Column("renewals_used", sa.Integer(), nullable=False),
        sa.Column("renewal_limit", sa.Integer(), nullable=False),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("daily_rate_grosze", sa.Integer(), nullable=False),
        sa.Column("fine_base_on", sa.Date(), nullable=False),
        sa.Column("carried_days", sa.Integer(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.Column("grace_until", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patron.id"], name=op.f("fk_loan_patron_id_patron")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan")),
        sa.UniqueConstraint(
            "patron_id",
            "item_barcode",
            "borrowed_on",
            name=op.f("uq_loan_patron_id_item_barcode_borrowed_on"),
        ),
    )
    with op.batch_alter_table("loan", schema=None) as batch_op:
        batch_op.create_index("ix_loan_item_open", ["item_barcode", "returned_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_loan_patron_id"), ["patron_id"], unique=False)

    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("amount_grosze", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("proof", sa.Boolean(), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("expected_by", sa.Date(), nullable=True),
        sa.Column("posting_id", sa.String(length=128), nullable=True),
        sa.Column("posted_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patron.id"], name=op.f("fk_payment_patron_id_patron")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("posting_id", name=op.f("uq_payment_posting_id")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_patron_id"), ["patron_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_patron_id"))

    op.drop_table("payment")
    with op.batch_alter_table("loan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loan_patron_id"))
        batch_op.drop_index("ix_loan_item_open")

    op.drop_table("loan")
