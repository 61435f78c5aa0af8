"""Card numbers in their one stored form: capital letters and ASCII digits, no dashes or
spaces. Earlier imports kept a dash ("AB-123456"), which no e-mail could then find.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 13:00:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from empikgo_mailer.domain.card_number import CardNumber

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    connection = op.get_bind()
    patron = sa.table("patron", sa.column("id", sa.Integer), sa.column("card_number", sa.String))
    rows = connection.execute(sa.select(patron.c.id, patron.c.card_number)).all()
    taken = {card for _, card in rows}
    for patron_id, card in rows:
        stored = CardNumber.find(card)
        if stored is None or stored.value == card:
            continue
        if stored.value in taken:
            # Two records for one card: staff must merge them in the library system.
            log.warning("card %s left as it is: %s already belongs to another patron", card, stored)
            continue
        connection.execute(
            patron.update().where(patron.c.id == patron_id).values(card_number=stored.value)
        )
        taken.add(stored.value)


def downgrade() -> None:
    """The old forms are not kept; the stored form is valid for the old code too."""
