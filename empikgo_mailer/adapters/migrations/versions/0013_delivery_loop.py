"""A code must reach its reader (RULES sections 8 and 9): an issuance whose reply was
refused or bounced is marked undelivered; a reply knows the code it carries and its
priority (codes go out first); a patron's address is kept as a key too, so that a sender
not on file for any reader is found with one index look-up.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issuance") as table:
        table.add_column(sa.Column("undelivered_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("undelivered_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("issuance_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("priority", sa.Integer(), server_default="1", nullable=False))
        table.create_foreign_key(
            op.f("fk_outbox_issuance_id_issuance"), "issuance", ["issuance_id"], ["id"]
        )
        table.create_index(
            "ix_outbox_branch_priority", ["branch_id", "priority", "created_at"], unique=False
        )
    with op.batch_alter_table("patron") as table:
        table.add_column(sa.Column("email_key", sa.String(length=254), nullable=True))
        table.create_index(op.f("ix_patron_email_key"), ["email_key"], unique=False)
    # The key is Python's casefold (domain/addresses.address_key), which SQL's lower()
    # is not for every letter: filled row by row.
    patron = sa.table(
        "patron", sa.column("id", sa.Integer), sa.column("email", sa.String), sa.column("email_key")
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(patron.c.id, patron.c.email).where(patron.c.email.is_not(None))
    )
    keys = [{"pid": pid, "key": email.strip().casefold()[:254]} for pid, email in rows]
    if keys:
        connection.execute(
            patron.update()
            .where(patron.c.id == sa.bindparam("pid"))
            .values(email_key=sa.bindparam("key")),
            keys,
        )
    # Replies already written that carry a code: through their request.
    connection.execute(
        sa.text(
            "UPDATE outbox SET priority = 0, issuance_id = (SELECT issuance_id FROM mail_request "
            "WHERE mail_request.id = outbox.request_id) WHERE request_id IN "
            "(SELECT id FROM mail_request WHERE issuance_id IS NOT NULL AND outcome = 'issued')"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("patron") as table:
        table.drop_index(op.f("ix_patron_email_key"))
        table.drop_column("email_key")
    with op.batch_alter_table("outbox") as table:
        table.drop_index("ix_outbox_branch_priority")
        table.drop_constraint(op.f("fk_outbox_issuance_id_issuance"), type_="foreignkey")
        table.drop_column("priority")
        table.drop_column("issuance_id")
    with op.batch_alter_table("issuance") as table:
        table.drop_column("undelivered_reason")
        table.drop_column("undelivered_at")
