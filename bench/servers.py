"""Databases for the benchmarks: a SQLite file and a throwaway PostgreSQL cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
