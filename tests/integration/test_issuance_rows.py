"""A batch's issuances go in together (`Store.add_issuances`: on PostgreSQL ids drawn from
the sequence and one COPY, elsewhere INSERT ... RETURNING). Each decision then points at
its own issuance, and the unique constraints still stop a second code as SQLAlchemy's
IntegrityError, which `decided_once` catches to decide again after a race."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from tests.support.data import LOADED_AT, add_codes, add_patron


def _row(patron: int, code: int) -> dict[str, object]:
    return {
        "code_id": code,
        "patron_id": patron,
        "platform": "empik-go",
        "month": "2026-11",
        "channel": "email",
        "branch_id": "w63",
        "issued_at": LOADED_AT,
    }


def _code_ids(db: Database) -> list[int]:
    with db.transaction() as session:
        return [row[0] for row in session.execute(text("SELECT id FROM code ORDER BY id"))]


def test_each_row_gets_its_own_id_in_order(database_url: str) -> None:
    db = Database(database_url)
    patrons = [add_patron(db, str(n)) for n in range(1, 8)]
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "w63", [f"C{n}" for n in range(7)])
    codes = _code_ids(db)
    rows = [_row(patron, code) for patron, code in zip(patrons, reversed(codes), strict=True)]
    with db.transaction() as session:
        first = Store(session).add_issuances(rows[:1])
        rest = Store(session).add_issuances(rows[1:])
    with db.transaction() as session:
        stored = {
            row[0]: (row[1], row[2])
            for row in session.execute(text("SELECT id, patron_id, code_id FROM issuance"))
        }
    db.dispose()
    ids = first + rest
    assert len(set(ids)) == 7
    assert [stored[i] for i in ids] == [(r["patron_id"], r["code_id"]) for r in rows]


@pytest.mark.parametrize("same", ["code", "patron-month"])
def test_a_second_code_in_a_batch_is_an_integrity_error(database_url: str, same: str) -> None:
    """The batch's other row is fine; the whole batch is refused, and nothing stays."""
    db = Database(database_url)
    first, second, third = add_patron(db, "1"), add_patron(db, "2"), add_patron(db, "3")
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "w63", ["A", "B", "C"])
    code_a, code_b, code_c = _code_ids(db)
    with db.transaction() as session:
        Store(session).add_issuances([_row(first, code_a)])
    batch = (
        [_row(second, code_b), _row(third, code_a)]  # code A given a second time
        if same == "code"
        else [_row(second, code_b), _row(first, code_c)]  # a second code for the first reader
    )
    with pytest.raises(IntegrityError), db.transaction() as session:
        Store(session).add_issuances(batch)
    with db.transaction() as session:
        count = session.execute(text("SELECT count(*) FROM issuance")).scalar()
    db.dispose()
    assert count == 1
