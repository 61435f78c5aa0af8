"""Engines and transactions on SQLite and PostgreSQL.

SQLite runs in WAL mode and every transaction starts with BEGIN IMMEDIATE, so two
processes never both read a pool as free and then race to write: the second waits for the
first (up to busy_timeout). PostgreSQL keeps its row locks (FOR UPDATE SKIP LOCKED in the
claim). On both, unique constraints are the last line of defence.
"""

from __future__ import annotations

import ctypes
import errno
import multiprocessing
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from empikgo_mailer.domain.errors import DiskFull

DEFAULT_BUSY_TIMEOUT_SECONDS = 15.0
# Values per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits.
IN_LIST_CHUNK = 500
T = TypeVar("T")


def in_chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """`items` in slices short enough for one IN (...) list each."""
    for start in range(0, len(items), IN_LIST_CHUNK):
        yield items[start : start + IN_LIST_CHUNK]


def unavailable_message(exc: DBAPIError) -> str:
    """What a person is told when the database refused or could not be reached (Polish)."""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    if is_disk_full(exc):  # a full disk can read "locked" too: waiting frees no space
        return DiskFull().message(DiskFull.THEN_RETRY)
    if "locked" in detail or "busy" in detail:
        return "Baza danych jest zablokowana przez inny proces; spróbuj ponownie za chwilę."
    return f"Nie można użyć bazy danych: {detail}"


# SQLite's primary result codes (the low byte of an extended one).
_SQLITE_IOERR, _SQLITE_FULL = 10, 13
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
# Below this much room, a "disk I/O error" is taken for a full disk. SQLite reports
# ENOSPC as SQLITE_FULL only where it grows its own files; growing the shared-memory
# index of a WAL database (at the first connection) fails as SQLITE_IOERR_SHMSIZE, a
# "disk I/O error", and SQLite keeps the errno to itself.
LOW_SPACE_BYTES = 1 << 20


def free_bytes(path: Path) -> int | None:
    """The room left for this process on the file system of `path` (or of its nearest
    existing parent); None when it cannot be told."""
    for place in (path, *path.parents):
        try:
            stats = os.statvfs(place)
        except OSError:
            continue
        return stats.f_bavail * stats.f_frsize
    return None


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, the driver's error it wraps, what it was raised from or during, and the
    members of an exception group: each once."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        exc = stack.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        orig = exc.orig if isinstance(exc, DBAPIError) else None
        for inner in (orig, exc.__cause__, exc.__context__):
            if isinstance(inner, BaseException):
                stack.append(inner)


def is_disk_full(error: BaseException, where: Path | None = None) -> bool:
    """Whether `error` (or what caused it) says there is no space left: SQLite's
    SQLITE_FULL, an OSError ENOSPC or EDQUOT, PostgreSQL's disk_full, or a SQLite "disk
    I/O error" while the file system of `where` (a SQLite file) has next to no room."""
    for exc in causes(error):
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            return True
        if getattr(exc, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if isinstance(exc, sqlite3.Error):
            primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if primary == _SQLITE_FULL:
                return True
            if primary == _SQLITE_IOERR and where is not None:
                room = free_bytes(where)
                if room is not None and room < LOW_SPACE_BYTES:
                    return True
    return False


def disk_full_in(error: BaseException) -> DiskFull | None:
    """The DiskFull `error` is, was raised from or during, or holds (a task group's)."""
    return next((exc for exc in causes(error) if isinstance(exc, DiskFull)), None)


def place_of(file: Path | None) -> str:
    """Where a database writes, as the operator is told it."""
    return "serwer bazy danych" if file is None else str(file.resolve().parent)


class FullDiskAsError:
    """A context manager: an error of a full disk out of its block (an OperationalError,
    sqlite3's own, an OSError) comes out as `DiskFull`, raised from it; the rest pass."""

    __slots__ = ("file",)

    def __init__(self, file: Path | None) -> None:
        self.file = file

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if error is None or isinstance(error, DiskFull) or not isinstance(error, Exception):
            return
        if is_disk_full(error, self.file):
            raise DiskFull(place_of(self.file)) from error


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL (None: another database, or one in memory)."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def _prepare_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_database_engine(url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> Engine:
    """`busy_timeout`: how long to wait for a lock (SQLite) or a connection (PostgreSQL)."""
    if is_sqlite(url):
        # No directory is made here: only `init` and `restore` create a database, so a
        # command pointed at the wrong data directory says so instead of starting afresh.
        engine = create_engine(url, connect_args={"timeout": busy_timeout})
        _prepare_sqlite(engine, int(busy_timeout * 1000))
        return engine
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, int(busy_timeout))}
    )


class WriteTurn:
    """Who writes first when a pass and its sender process share one SQLite file: the
    sender. SQLite's busy handler polls with sleeps growing to 100 ms, so a pass that
    commits batch after batch would starve a sender that needs the lock now and then
    (measured: no claim got through until a branch's whole queue was decided). The
    sender raises a flag in shared memory while it wants or holds the lock; the pass
    waits for the flag to fall before each transaction, for `PATIENCE` at most (a
    sender killed with the flag up costs the pass that much per transaction, until the
    pass finds it dead)."""

    PATIENCE = 0.2

    def __init__(self) -> None:
        self._wanted = multiprocessing.RawValue(ctypes.c_int, 0)  # shared across a fork

    @contextmanager
    def first(self) -> Iterator[None]:
        """The sender's side."""
        self._wanted.value = 1
        try:
            yield
        finally:
            self._wanted.value = 0

    @contextmanager
    def after_sender(self) -> Iterator[None]:
        """The pass's side."""
        deadline = time.monotonic() + self.PATIENCE
        while self._wanted.value and time.monotonic() < deadline:
            time.sleep(0.0005)
        yield


class Database:
    """The one engine of a process, and the transactions on it."""

    def __init__(self, url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.file = sqlite_file(url)
        self.busy_timeout = busy_timeout
        self.engine = create_database_engine(url, busy_timeout)
        # Every SQLite transaction holds the one write lock (BEGIN IMMEDIATE) anyway. Threads
        # of one process (the web server's pool, the scheduler) queue here instead of in
        # SQLite's busy handler, whose sleeps grow to 100 ms: measured on 16 concurrent
        # HTTP clients, that backoff put p95 latency above 700 ms.
        self._writer: AbstractContextManager[object] = (
            threading.RLock() if is_sqlite(url) else nullcontext()
        )
        self._turn: Callable[[], AbstractContextManager[None]] = nullcontext
        self._full_disk = FullDiskAsError(self.file)

    def full_disk_as_error(self) -> FullDiskAsError:
        """Around database work outside `transaction` (which does it already): a full
        disk comes out as `DiskFull`, not as a "disk I/O error" to wait out."""
        return self._full_disk

    def make_home(self) -> None:
        """The directory of a SQLite database about to be created (by `init`, `restore`)."""
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)

    def take_turns(self, turn: Callable[[], AbstractContextManager[None]] | None) -> None:
        """Enter `turn` around every transaction (a `WriteTurn` side); None: stop."""
        self._turn = turn or nullcontext

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write_turn(self) -> Iterator[None]:
        """This process's turn at the database, around every transaction (see `_writer`)."""
        with self._turn(), self._writer:
            yield

    @contextmanager
    def between_transactions(self) -> Iterator[None]:
        """No transaction of this process's threads is open meanwhile (on SQLite, where
        they all queue on `_writer`): a process forked here copies no SQLite lock held
        half-way by another thread, which the child would wait on forever."""
        with self._writer:
            yield

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit when the block ends normally, roll back on any exception."""
        with (
            self._full_disk,
            self.write_turn(),
            Session(self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core transaction, for small hot writes where an ORM session costs more than
        the statement (recording each reply as it leaves)."""
        with self._full_disk, self._turn(), self._writer, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def transaction_on(self, connection: Connection) -> Iterator[Connection]:
        """A Core transaction on a connection the caller keeps for many of them."""
        with self._full_disk, self._turn(), self._writer, connection.begin():
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
