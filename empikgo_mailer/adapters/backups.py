"""Backups a running library can take and restore: SQLite through its online backup API
(a consistent copy while the daemon writes), PostgreSQL through pg_dump / pg_restore in
their custom format. A restore goes only into an empty database, never over live data.

A copy is written as `<name>.part` and renamed when whole, so a file with the final name
is always a complete copy; `backup_into` keeps a directory of dated copies for a schedule
(the systemd timer, the compose `backup` service) and removes what older or interrupted
copies left there."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from empikgo_mailer.adapters.database import Database, is_sqlite
from empikgo_mailer.adapters.outbox import journal_into
from empikgo_mailer.adapters.sent_journal import journal_path
from empikgo_mailer.domain.errors import BadInput

PAGES_PER_STEP = 1024  # the writer gets the lock back between steps
PARTIAL = ".part"
# A dated copy of `backup_into`; the moment in the name (library time), not the file's
# mtime, says how old it is (a copied or restored directory keeps its ages).
DATED = re.compile(r"^empikgo-(\d{8}-\d{6})\.backup$")
DATED_FORMAT = "%Y%m%d-%H%M%S"
# What an interrupted copy leaves beside it: the partial file and SQLite's companions.
LEFTOVER = re.compile(r"^empikgo-\d{8}-\d{6}\.backup(\.part)?(-wal|-shm|-journal)?$")
LOCK_NAME = ".empikgo-backup.lock"


class BackupError(BadInput):
    """The backup or restore cannot be done; the message is for the IT person, in Polish."""


@dataclass(frozen=True)
class BackupDone:
    path: Path
    size: int
    schema: str | None


@dataclass(frozen=True)
class Rotation:
    """A dated copy made, and the files removed: copies past their days, leftovers."""

    done: BackupDone
    expired: tuple[Path, ...]
    leftovers: tuple[Path, ...]


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


def _companions(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def backup(db: Database, target: Path) -> BackupDone:
    if target.exists():
        raise BackupError(f"Plik {target} już istnieje; podaj nową nazwę.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL)
    try:
        if is_sqlite(db.url):
            _sqlite_copy(db, partial)
        else:
            _pg_dump(db, partial)
        partial.rename(target)
    finally:
        for path in (partial, *_companions(partial)):
            path.unlink(missing_ok=True)
    schema = _schema_of(target) if is_sqlite(db.url) else None
    return BackupDone(target, target.stat().st_size, schema)


def _sqlite_copy(db: Database, partial: Path) -> None:
    source = _sqlite_path(db)
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
    # The copy is one file: in WAL mode (the live database's) every later reader, even a
    # read-only check, would leave -wal and -shm files beside it.
    with sqlite3.connect(partial) as copy:
        copy.execute("PRAGMA journal_mode = DELETE")
    copy.close()
    verdict = integrity(partial)
    if verdict != "ok":
        raise BackupError(f"Kopia nie przeszła kontroli integralności: {verdict}")


def _pg_dump(db: Database, partial: Path) -> None:
    args, env = _libpq(db)
    done = subprocess.run(  # noqa: S603 (fixed program, no shell)
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump nie wykonał kopii: {done.stderr.strip()[:500]}")


@contextmanager
def _only_backup_in(directory: Path) -> Iterator[None]:
    """One scheduled copy at a time per directory: a second one (a timer firing while a
    slow copy runs) is refused rather than racing it; with the lock held, every partial
    file there is an interrupted copy's."""
    with (directory / LOCK_NAME).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"W katalogu {directory} trwa już inna kopia zapasowa; spróbuj później."
            ) from None
        yield


def backup_into(db: Database, directory: Path, now: datetime, keep_days: int) -> Rotation:
    """A copy named by `now` in `directory`; then copies older than `keep_days` days and
    whatever interrupted copies left (partial files, SQLite's -wal/-shm/-journal) go."""
    if keep_days < 1:
        raise BackupError("Kopie trzymam co najmniej 1 dzień (--keep-days 1 lub więcej).")
    directory.mkdir(parents=True, exist_ok=True)
    with _only_backup_in(directory):
        leftovers = tuple(
            path
            for path in sorted(directory.iterdir())
            if LEFTOVER.match(path.name) and not DATED.match(path.name)
        )
        for path in leftovers:
            path.unlink(missing_ok=True)
        done = backup(db, directory / f"empikgo-{now:{DATED_FORMAT}}.backup")
        oldest = now - timedelta(days=keep_days)
        expired = tuple(
            path
            for path in sorted(directory.iterdir())
            if (found := DATED.match(path.name))
            and path != done.path
            and datetime.strptime(found[1], DATED_FORMAT).replace(tzinfo=now.tzinfo) < oldest
        )
        for path in expired:
            path.unlink(missing_ok=True)
    return Rotation(done, expired, leftovers)


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
