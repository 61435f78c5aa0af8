"""Backups a running library can take and restore: SQLite through its online backup API
(a consistent copy while the daemon writes), PostgreSQL through pg_dump / pg_restore in
their custom format. A restore goes only into an empty database, never over live data."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from empikgo_mailer.adapters.database import Database, is_sqlite
from empikgo_mailer.adapters.outbox import journal_into
from empikgo_mailer.adapters.sent_journal import journal_path
from empikgo_mailer.domain.errors import BadInput

PAGES_PER_STEP = 1024  # the writer gets the lock back between steps


class BackupError(BadInput):
    """The backup or restore cannot be done; the message is for the IT person, in Polish."""


@dataclass(frozen=True)
class BackupDone:
    path: Path
    size: int
    schema: str | None


def _sqlite_path(db: Database) -> Path:
    database = make_url(db.url).database
    if not database or database == ":memory:":
        raise BackupError("Baza SQLite w pamięci nie ma pliku do skopiowania.")
    return Path(database)


def _libpq(db: Database) -> tuple[list[str], dict[str, str]]:
    """The connection for pg_dump / pg_restore; the password travels in the environment."""
    url = make_url(db.url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--dbname", url.set(drivername="postgresql", password=None).render_as_string(False)]
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)),
        None,
    )
    if found is None:
        raise BackupError(
            f"Brak programu {name} (pakiet postgresql-client). Zainstaluj go albo wykonaj "
            f"kopię sam: pg_dump --format=custom --file PLIK --dbname postgresql://…"
        )
    return found


def integrity(path: Path) -> str:
    """SQLite's own check of a database file: 'ok' or the first problem."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)


def _schema_of(path: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            return str(row[0]) if row else None
    except sqlite3.DatabaseError:
        return None


def backup(db: Database, target: Path) -> BackupDone:
    if target.exists():
        raise BackupError(f"Plik {target} już istnieje; podaj nową nazwę.")
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(db.url):
        source = _sqlite_path(db)
        partial = target.with_name(target.name + ".part")
        with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
            live.backup(copy, pages=PAGES_PER_STEP)
        live.close()
        copy.close()
        # Replies the sender has sent but not yet written into the outbox (its journal):
        # the copy must know them, or a restore would send them again.
        journal = journal_path(db)
        if journal is not None:
            copied = Database(f"sqlite:///{partial}", db.busy_timeout)
            try:
                journal_into(copied, journal)
            finally:
                copied.dispose()
        verdict = integrity(partial)
        if verdict != "ok":
            partial.unlink()
            raise BackupError(f"Kopia nie przeszła kontroli integralności: {verdict}")
        partial.rename(target)
        return BackupDone(target, target.stat().st_size, _schema_of(target))
    args, env = _libpq(db)
    done = subprocess.run(  # noqa: S603 (fixed program, no shell)
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(f"pg_dump nie wykonał kopii: {done.stderr.strip()[:500]}")
    return BackupDone(target, target.stat().st_size, None)


def _is_empty(db: Database) -> bool:
    return not inspect(db.engine).get_table_names()


def restore(db: Database, source: Path) -> None:
    if not source.is_file():
        raise BackupError(f"Nie ma takiego pliku kopii: {source}")
    if is_sqlite(db.url):
        target = _sqlite_path(db)
        verdict = integrity(source)
        if verdict != "ok":
            raise BackupError(f"To nie jest poprawna kopia bazy SQLite ({verdict}): {source}")
        if _schema_of(source) is None:
            raise BackupError(f"Plik {source} nie jest kopią bazy empikgo-mailer.")
        if target.exists() and not _is_empty(db):
            raise BackupError(
                f"Baza {target} nie jest pusta: odtwarzam tylko do pustej bazy "
                "(przenieś albo usuń obecny plik)."
            )
        db.engine.dispose()
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as backup_file, sqlite3.connect(target) as fresh:
            backup_file.backup(fresh)
        backup_file.close()
        fresh.close()
        return
    if not _is_empty(db):
        raise BackupError("Baza PostgreSQL nie jest pusta: odtwarzam tylko do pustej bazy.")
    args, env = _libpq(db)
    done = subprocess.run(  # noqa: S603 (fixed program, no shell)
        [_tool("pg_restore"), "--no-owner", "--exit-on-error", *args, str(source)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore nie odtworzył kopii: {done.stderr.strip()[:500]}")
