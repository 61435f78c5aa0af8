"""The console finds a reader by name (issue 31): each patron keeps a search key of its
name, folded as the mail rule folds names (domain/names.name_key); and the queue lists a
branch's mail newest first, searched and filtered by outcome, through an index.

Revision ID: 0014
Revises: 0013
Create Date: 2027-01-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from empikgo_mailer.domain.names import name_key

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_CHUNK = 5_000


def upgrade() -> None:
    with op.batch_alter_table("patron") as table:
        table.add_column(sa.Column("name_key", sa.String(length=200), nullable=True))
    with op.batch_alter_table("mail_request") as table:
        table.create_index("ix_mail_request_recent", ["branch_id", "received_at"], unique=False)
    # The key folds diacritics ("ł" too), which no SQL function of both databases does:
    # filled in Python, a chunk at a time.
    patron = sa.table(
        "patron",
        sa.column("id", sa.Integer),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("name_key", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(patron.c.id, patron.c.first_name, patron.c.last_name)).all()
    update = (
        patron.update()
        .where(patron.c.id == sa.bindparam("pid"))
        .values(name_key=sa.bindparam("key"))
    )
    for start in range(0, len(rows), _CHUNK):
        connection.execute(
            update,
            [
                {"pid": pid, "key": name_key(first, last)}
                for pid, first, last in rows[start : start + _CHUNK]
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_request") as table:
        table.drop_index("ix_mail_request_recent")
    with op.batch_alter_table("patron") as table:
        table.drop_column("name_key")
