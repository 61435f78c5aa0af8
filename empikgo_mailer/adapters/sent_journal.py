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
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from empikgo_mailer.adapters.database import Database

SUFFIX = ".sent-journal"


class JournalEntry(NamedTuple):
    position: int
    reply_id: int
    owner: str  # the lease owner that sent it: applied only while that lease stands
    at: datetime


def journal_path(db: Database) -> Path | None:
    """Where the journal of `db` lives; None when it needs none (PostgreSQL, memory)."""
    return None if db.file is None else db.file.with_name(db.file.name + SUFFIX)


class SentJournal:
    def __init__(self, path: Path, busy_timeout: float) -> None:
        # Autocommit: every INSERT is a transaction of its own, committed at once. Results
        # are recorded from one thread while another reads them into the outbox (a claim):
        # the connection is shared, one statement at a time.
        self._connection = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        # Durable as the database itself is (WAL, synchronous NORMAL): a killed process
        # loses nothing committed.
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute("PRAGMA synchronous = NORMAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS sent (position INTEGER PRIMARY KEY,"
            " reply_id INTEGER NOT NULL, owner TEXT NOT NULL, at TEXT NOT NULL)"
        )

    def record(self, owner: str, sent: list[tuple[int, datetime]]) -> None:
        """Replies that left (id, when), in one transaction."""
        with self._lock:
            self._connection.execute("BEGIN")
            try:
                self._connection.executemany(
                    "INSERT INTO sent (reply_id, owner, at) VALUES (?, ?, ?)",
                    [(reply_id, owner, at.isoformat()) for reply_id, at in sent],
                )
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT position, reply_id, owner, at FROM sent ORDER BY position"
            ).fetchall()
        return [JournalEntry(p, r, o, datetime.fromisoformat(a)) for p, r, o, a in rows]

    def forget(self, up_to: int) -> None:
        """Drop entries the outbox now holds."""
        with self._lock:
            self._connection.execute("DELETE FROM sent WHERE position <= ?", (up_to,))

    def close(self) -> None:
        with self._lock:
            self._connection.close()
