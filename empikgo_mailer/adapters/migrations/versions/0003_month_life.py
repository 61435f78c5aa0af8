"""The life of a month: activations, month closes, the service switch, jobs, drop files.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 00:12:28.722879
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dropped_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dropped_file")),
        sa.UniqueConstraint("kind", "sha256", name=op.f("uq_dropped_file_kind_sha256")),
    )
    with op.batch_alter_table("dropped_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dropped_file_taken_at"), ["taken_at"], unique=False)

    op.create_table(
        "job_run",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_run")),
    )
    op.create_table(
        "month_close",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("lapsed", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("banned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_month_close")),
    )
    op.create_table(
        "service_switch",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_service_switch")),
    )
    with op.batch_alter_table("code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("issuance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issuance", schema=None) as batch_op:
        batch_op.drop_column("expired_at")

    with op.batch_alter_table("code", schema=None) as batch_op:
        batch_op.drop_column("activated_at")

    op.drop_table("service_switch")
    op.drop_table("month_close")
    op.drop_table("job_run")
    with op.batch_alter_table("dropped_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dropped_file_taken_at"))

    op.drop_table("dropped_file")
