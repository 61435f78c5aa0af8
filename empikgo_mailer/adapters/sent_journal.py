"""The sender's journal on SQLite: "this reply has left", on disk before the next reply
leaves, in a small SQLite file of its own beside the database.

SQLite has one writer. While a pass decides, each batch holds the database's write lock
for tens of milliseconds; a sender that had to record every reply in the database would
wait that long between replies. Its journal has no other writer, so a result is recorded
in some 20 µs whatever the pass is doing, and the outbox learns the results a few hundred
at a time (`Outbox.apply_journal`), before every claim and before leases are given back.
The journal is `Outbox.record`'s business alone: nothing outside the outbox (and a
backup, which must know what left) reads it.

A crash keeps the promise: a reply in the journal is applied by the next sender before it
takes back any lease, so it is never sent again; only the reply in flight can be.
PostgreSQL has row locks and no single writer: its sender records in the database.

A full disk keeps it too. The journal holds a reserve of room, a file beside it
(`-reserve`), made before anything is sent: a sender that cannot make it does not start
(DiskFull). When recording the replies that left finds no space, the reserve is freed,
they are recorded in its room, and DiskFull stops the sender before the next reply
leaves; the next sender, once there is space again, applies them and makes a new reserve.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from empikgo_mailer.adapters.database import (
    LOW_SPACE_BYTES,
    Database,
    FullDiskAsError,
    is_disk_full,
    place_of,
)
from empikgo_mailer.domain.errors import DiskFull

log = logging.getLogger(__name__)
SUFFIX = ".sent-journal"
RESERVE_SUFFIX = "-reserve"
# Room for the last results when the disk fills up: one batch takes a few pages of the
# journal's WAL; the rest lets the outbox take them and the leases back on the way out.
# `status` calls a disk full where a new reserve would not fit.
RESERVE_BYTES = LOW_SPACE_BYTES


class JournalEntry(NamedTuple):
    position: int
    reply_id: int
    owner: str  # the lease owner that sent it: applied only while that lease stands
    at: datetime


def journal_path(db: Database) -> Path | None:
    """Where the journal of `db` lives; None when it needs none (PostgreSQL, memory)."""
    return None if db.file is None else db.file.with_name(db.file.name + SUFFIX)


class SentJournal:
    """`keep_room`: make the reserve (a sender's journal); DiskFull when there is no
    room for it, or for the journal itself."""

    def __init__(self, path: Path, busy_timeout: float, *, keep_room: bool = True) -> None:
        self._path = path
        self._reserve = path.with_name(path.name + RESERVE_SUFFIX)
        self._full_disk = FullDiskAsError(path)
        self._lock = threading.Lock()
        with self._full_disk:
            if keep_room:
                _make_reserve(self._reserve)
            # Autocommit: every INSERT is a transaction of its own, committed at once.
            # Results are recorded from one thread while another reads them into the
            # outbox (a claim): the connection is shared, one statement at a time.
            self._connection = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            try:
                # Durable as the database itself is (WAL, synchronous NORMAL): a killed
                # process loses nothing committed.
                self._connection.execute("PRAGMA journal_mode = WAL")
                self._connection.execute("PRAGMA synchronous = NORMAL")
                self._connection.execute(
                    "CREATE TABLE IF NOT EXISTS sent (position INTEGER PRIMARY KEY,"
                    " reply_id INTEGER NOT NULL, owner TEXT NOT NULL, at TEXT NOT NULL)"
                )
            except BaseException:
                self._connection.close()
                raise

    def record(self, owner: str, sent: list[tuple[int, datetime]]) -> None:
        """Replies that left (id, when), in one transaction. On a full disk they are
        recorded in the reserve's room and DiskFull is raised all the same: no further
        reply may leave before there is space again."""
        rows = [(reply_id, owner, at.isoformat()) for reply_id, at in sent]
        with self._lock:
            try:
                self._insert(rows)
            except (sqlite3.Error, OSError) as exc:
                if not is_disk_full(exc, self._path):
                    raise
                full = DiskFull(place_of(self._path))
                if not _free_reserve(self._reserve):
                    log.error("no space left to record %d replies that left", len(rows))
                    raise full from exc
                try:
                    self._insert(rows)
                except (sqlite3.Error, OSError) as again:
                    log.error("no space left to record %d replies that left", len(rows))
                    raise full from again
                # INFO: whoever handles DiskFull says the disk is full, once.
                log.info(
                    "the disk is full: the journal's reserve took the last replies that "
                    "left (%d); sending stops until there is space again",
                    len(rows),
                )
                raise full from exc

    def _insert(self, rows: list[tuple[int, str, str]]) -> None:
        self._connection.execute("BEGIN")
        try:
            self._connection.executemany(
                "INSERT INTO sent (reply_id, owner, at) VALUES (?, ?, ?)", rows
            )
            self._connection.execute("COMMIT")
        except BaseException:
            # SQLite may have rolled back already (a full disk does that): ROLLBACK then
            # would fail and hide the error that matters.
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            raise

    def entries(self) -> list[JournalEntry]:
        with self._lock, self._full_disk:
            rows = self._connection.execute(
                "SELECT position, reply_id, owner, at FROM sent ORDER BY position"
            ).fetchall()
        return [JournalEntry(p, r, o, datetime.fromisoformat(a)) for p, r, o, a in rows]

    def forget(self, up_to: int) -> None:
        """Drop entries the outbox now holds."""
        with self._lock, self._full_disk:
            self._connection.execute("DELETE FROM sent WHERE position <= ?", (up_to,))

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _make_reserve(path: Path) -> None:
    """The reserve at full size (left as it is when it is); ENOSPC when there is no room
    for it, and then no part of it is kept."""
    try:
        if path.stat().st_size >= RESERVE_BYTES:
            return
    except FileNotFoundError:
        pass
    try:
        with open(path, "ab") as reserve:
            # Random bytes: a file system that compresses would store zeros in nothing.
            reserve.write(os.urandom(RESERVE_BYTES - reserve.tell()))
            reserve.flush()
            os.fsync(reserve.fileno())
    except OSError:
        path.unlink(missing_ok=True)
        raise


def _free_reserve(path: Path) -> bool:
    """Give the reserve's room back; False when there was none (freed already)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
