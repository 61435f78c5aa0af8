"""Migrations: the schema they build is the schema the code uses, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.sent_copies import SentCopies
from empikgo_mailer.adapters.tables import Issuance, OutboxMessage
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from tests.support.data import LOADED_AT, add_codes, add_patron


def test_migrations_match_the_tables(database_url: str) -> None:
    db = Database(database_url)
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    db.dispose()
    assert differences == []


def test_upgrade_is_safe_to_repeat(database_url: str) -> None:
    db = Database(database_url)
    head = schema.head_revision()
    assert schema.upgrade(db) == (head, head)
    assert schema.is_current(db)
    db.dispose()


def test_a_copy_round_reads_only_the_replies_still_waiting_for_their_copy(
    database_url: str,
) -> None:
    """Every month's sent replies stay in the outbox; the copy rounds of a month-start
    burst must not read and sort them all each time (they did, by status alone)."""
    db = Database(database_url)
    sent_at = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    rows = [
        {
            "branch_id": "w63",
            "sender": "w63@biblioteka.test",
            "recipient": f"r{n}@example.com",
            "recipient_key": f"r{n}@example.com",
            "message_id": f"<m{n}@biblioteka.test>",
            "message": "x",
            "status": "sent",
            "attempts": 0,
            "next_attempt_at": sent_at,
            "created_at": sent_at,
            "sent_at": sent_at + timedelta(seconds=n % 3000),
            "copied_at": None if n >= 3000 else sent_at,  # the last 3 are waiting
        }
        for n in range(3003)
    ]
    with db.transaction() as session:
        session.execute(OutboxMessage.__table__.insert(), rows)  # type: ignore[attr-defined]
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    waiting = SentCopies(db).waiting("w63", 200)
    event.remove(db.engine, "before_cursor_execute", seen)
    assert [reply.message_id for reply in waiting] == [
        f"<m{n}@biblioteka.test>" for n in (3000, 3001, 3002)
    ]
    ((query, parameters),) = [(q, p) for q, p in statements if q.lstrip().startswith("SELECT")]
    with db.engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(
                "EXPLAIN " + ("QUERY PLAN " if db.dialect == "sqlite" else "") + query, parameters
            )
        )
    db.dispose()
    assert "ix_outbox_copy_waiting" in plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan  # read in order, not sorted


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    schema.upgrade(db)
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    db.dispose()


@pytest.mark.parametrize("same", ["code", "patron-month"])
def test_the_database_itself_refuses_a_second_issuance(database_url: str, same: str) -> None:
    """Even code that skipped every check could not give one code twice, or two codes a month."""
    db = Database(database_url)
    first = add_patron(db, "1")
    second = add_patron(db, "2")
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "w63", ["A", "B"])
    with db.transaction() as session:
        code_ids = [row[0] for row in session.execute(text("SELECT id FROM code ORDER BY id"))]

    def issuance(patron: int, code: int) -> Issuance:
        return Issuance(
            code_id=code,
            patron_id=patron,
            platform="empik-go",
            month="2026-11",
            channel="desk",
            branch_id="w63",
            issued_at=LOADED_AT,
        )

    with db.transaction() as session:
        session.add(issuance(first, code_ids[0]))
    again = issuance(second, code_ids[0]) if same == "code" else issuance(first, code_ids[1])
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(again)
    db.dispose()


def test_card_numbers_stored_with_dashes_are_stored_plainly(tmp_path: Path) -> None:
    """Imports before 0006 kept "AB-123456"; the mail door could never find such a card."""
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    command.upgrade(schema._alembic_config(db), "0005")
    with db.engine.begin() as connection:  # the tables of 0005, not of today's model
        for card in ("AB-123456", "cd 77", "EF-1", "EF1"):  # EF-1, EF1: left for staff
            connection.execute(
                text(
                    "INSERT INTO patron (card_number, first_name, last_name, email, active, "
                    "opening_balance_grosze, updated_at) VALUES (:card, 'Jan', 'Kowalski', "
                    "'jan@example.com', 1, 0, '2026-10-30 12:00:00')"
                ),
                {"card": card},
            )
    schema.upgrade(db)
    with db.engine.connect() as connection:
        cards = sorted(
            card for (card,) in connection.execute(text("SELECT card_number FROM patron"))
        )
    db.dispose()
    assert cards == ["AB123456", "CD77", "EF-1", "EF1"]
