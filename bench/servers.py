"""Databases for the benchmarks: a SQLite file and a throwaway PostgreSQL cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.database import Database
from tests.support.postgres import PostgresServer


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    """A migrated, empty database; yields its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'bench.sqlite3'}"
        db = Database(url)
        schema.upgrade(db)
        db.dispose()
        yield url
        return
    server = PostgresServer().start()
    try:
        url = server.create_database("bench")
        db = Database(url)
        schema.upgrade(db)
        db.dispose()
        yield url
    finally:
        server.stop()
