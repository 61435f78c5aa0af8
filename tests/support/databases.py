"""Migrated databases for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.database import Database


def migrated(url: str) -> str:
    """Bring the database at `url` to the newest schema; return the URL."""
    db = Database(url)
    schema.upgrade(db)
    db.dispose()
    return url


def migrated_sqlite(directory: Path, name: str = "empikgo.sqlite3") -> str:
    return migrated(f"sqlite:///{directory / name}")
