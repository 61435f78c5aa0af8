"""Databases for the benchmarks: a SQLite file and a throwaway PostgreSQL cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.store import Store
from tests.support.databases import migrated, migrated_sqlite
from tests.support.postgres import PostgresServer


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    """A migrated, empty database; yields its URL."""
    if backend == "sqlite":
        yield migrated_sqlite(directory, "bench.sqlite3")
        return
    server = PostgresServer().start()
    try:
        yield migrated(server.create_database("bench"))
    finally:
        server.stop()


def seed_patrons(db: Database, cards: list[str]) -> None:
    """Eligible readers, one per card, all named Jan Kowalski."""
    with db.transaction() as session:
        Store(session).insert_patrons(
            [
                {
                    "card_number": card,
                    "first_name": "Jan",
                    "last_name": "Kowalski",
                    "email": "jan@example.com",
                    "active": True,
                    "contact_confirmed_on": date(2026, 9, 1),
                    "opening_balance_grosze": 0,
                    "updated_at": datetime(2026, 10, 1, tzinfo=UTC),
                }
                for card in cards
            ]
        )
