"""One mail pass at a time per database, across processes and machines; and one sender.

A cron `run --once` that overlaps the daemon, or two daemons started by mistake, would
otherwise send the same replies twice. The sender has a lock of its own (`SEND`): a pass
may send from a second process, and if the pass is killed, that process finishes its
reply in hand while the next pass has already begun; the next pass takes back unfinished
leases only once it holds the sender's lock. PostgreSQL: a session advisory lock, held by one
connection for the whole pass and released by the server when that connection dies.
SQLite: an exclusive `flock` on a file beside the database, released by the kernel when
the process dies. Either way a killed pass never leaves the lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.errors import DatabaseProblem

log = logging.getLogger(__name__)
# One key per purpose; advisory locks are per database, so two libraries sharing a
# server never wait for each other.
# PASS: collecting (the lock of a whole pass before the runners could run alone).
PASS, DECIDE, SEND = "pass", "decide", "send"
_POLL_SECONDS = 0.2
_MEMORY_LOCKS: dict[tuple[str, str], threading.Lock] = {}


def _key(purpose: str) -> int:
    name = {
        PASS: b"empikgo-mailer mail pass",
        DECIDE: b"empikgo-mailer decider",
        SEND: b"empikgo-mailer sender",
    }[purpose]
    return int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)


class PassBusy(DatabaseProblem):
    """Another pass holds the lock and did not finish within the wait."""

    def __init__(self) -> None:
        super().__init__(
            "inny przebieg (demon albo drugie „run --once”) obsługuje teraz pocztę tej bazy "
            "danych; ten przebieg nie zrobił nic. Spróbuj ponownie za chwilę."
        )


def _wait(try_once: object, wait_seconds: float) -> bool:
    deadline = time.monotonic() + wait_seconds
    while True:
        if callable(try_once) and try_once():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)


class PassLock:
    """`purpose`: PASS (collecting, and with DECIDE a whole mail pass), DECIDE (deciding
    the queue) or SEND (whoever sends the outbox)."""

    def __init__(self, db: Database, purpose: str = PASS) -> None:
        self.db = db
        self.purpose = purpose
        self._key = _key(purpose)

    @contextmanager
    def held(self, wait_seconds: float) -> Iterator[None]:
        """Hold the lock for the block; wait up to `wait_seconds` for another pass, then
        raise PassBusy."""
        if self.db.dialect == "postgresql":
            with self._advisory(wait_seconds):
                yield
            return
        database = make_url(self.db.url).database
        if not database or database == ":memory:":
            with self._in_process(self.db.url, wait_seconds):
                yield
            return
        with self._lock_file(Path(database), wait_seconds):
            yield

    @contextmanager
    def _advisory(self, wait_seconds: float) -> Iterator[None]:
        with self.db.engine.connect() as connection:

            def try_once() -> bool:
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}
                )
                connection.commit()  # hold the session lock, not an idle transaction
                return bool(taken.scalar())

            if not _wait(try_once, wait_seconds):
                raise PassBusy
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                connection.commit()

    @contextmanager
    def _lock_file(self, database: Path, wait_seconds: float) -> Iterator[None]:
        path = database.resolve().with_name(f"{database.name}.{self.purpose}-lock")
        # The first pass creates the file: on a full disk, say so (not "busy").
        with self.db.full_disk_as_error():
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:

            def try_once() -> bool:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            if not _wait(try_once, wait_seconds):
                raise PassBusy
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    @contextmanager
    def _in_process(self, url: str, wait_seconds: float) -> Iterator[None]:
        lock = _MEMORY_LOCKS.setdefault((self.purpose, url), threading.Lock())
        if not lock.acquire(timeout=max(wait_seconds, 0.0)):
            raise PassBusy
        try:
            yield
        finally:
            lock.release()
