"""Test data written straight into the tables, for tests about rules rather than imports."""

from __future__ import annotations

from datetime import UTC, date, datetime

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import Ban, Patron
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform

LOADED_AT = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)


def add_patron(
    db: Database,
    card: str,
    first: str = "Jan",
    last: str = "Kowalski",
    *,
    email: str | None = "jan@example.com",
    active: bool = True,
    confirmed: date | None = date(2026, 9, 1),
    balance: int = 0,
) -> int:
    with db.transaction() as session:
        patron = Patron(
            card_number=card,
            first_name=first,
            last_name=last,
            email=email,
            active=active,
            contact_confirmed_on=confirmed,
            opening_balance_grosze=balance,
            updated_at=LOADED_AT,
        )
        session.add(patron)
        session.flush()
        assert patron.id is not None
        return patron.id


def add_codes(
    db: Database, platform: Platform, month: Month, branch: str | None, values: list[str]
) -> None:
    with db.transaction() as session:
        Store(session).insert_codes(platform, month, branch, values, LOADED_AT)


def add_ban(db: Database, patron_id: int, cause: Month) -> None:
    with db.transaction() as session:
        session.add(
            Ban(
                patron_id=patron_id,
                cause_month=str(cause),
                first_month=str(cause.plus(1)),
                last_month=str(cause.plus(3)),
                created_at=LOADED_AT,
            )
        )
