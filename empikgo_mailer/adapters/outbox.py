"""The outbox as the sender sees it: claim due replies with a lease, record each result
the moment the server has answered, and keep the health of each link (the SMTP circuit
breaker's state lives here, so every process sees it).

Every write is its own short transaction: a result is on disk before the next reply is
sent, so a crash repeats at most the one reply whose answer was not yet recorded. On
SQLite a reply that left is first written to the sender's journal (`sent_journal`) and
reaches the outbox a batch at a time.

One send phase uses an Outbox from two threads at once: the next claim is made in one
while results are recorded from another. Each connection is therefore used by one
thread at a time (a lock each); a claim and a sent reply's result use different ones, so
that a claim waiting for a busy database never holds up a result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Executable, Table, bindparam, or_, update
from sqlalchemy import select as sql_select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import SQLModel, col, select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.sent_journal import JournalEntry, SentJournal, journal_path
from empikgo_mailer.adapters.tables import LinkState
from empikgo_mailer.domain.statuses import ReplyStatus

if TYPE_CHECKING:
    import psycopg

    from empikgo_mailer.adapters.pg_in_flight import ResultsInFlight

log = logging.getLogger(__name__)
T = TypeVar("T")
_OUTBOX: Table = SQLModel.metadata.tables["outbox"]
LEASE = timedelta(minutes=10)
# How long a result waits for a database held by someone else before the pass gives up
# on it (and the reply may be sent once more by a later pass).
RECORD_PATIENCE_SECONDS = 300.0


@dataclass(frozen=True)
class OutgoingReply:
    id: int
    sender: str
    recipient: str
    message: str
    attempts: int


_o = _OUTBOX.c
_ONE = _o.id == bindparam("reply_id")
_FREE = {"lease_owner": None, "lease_until": None}
_SENT = (
    update(_OUTBOX)
    .where(_ONE)
    .values(
        status=ReplyStatus.SENT,
        sent_at=bindparam("at"),
        last_attempt_at=bindparam("at"),
        last_error=None,
        **_FREE,
    )
)
_DEFERRED = (
    update(_OUTBOX)
    .where(_ONE)
    .values(
        attempts=bindparam("tries"),
        last_error=bindparam("error"),
        last_attempt_at=bindparam("at"),
        next_attempt_at=bindparam("next_at"),
        **_FREE,
    )
)
_FAILED = (
    update(_OUTBOX)
    .where(_ONE)
    .values(
        status=ReplyStatus.FAILED,
        attempts=bindparam("tries"),
        last_error=bindparam("error"),
        last_attempt_at=bindparam("at"),
        **_FREE,
    )
)
# A journal entry, applied only while the sender that wrote it still holds the lease: an
# entry applied once already (a crash between applying and forgetting) changes nothing.
_SENT_BY = (
    update(_OUTBOX)
    .where(_ONE, _o.lease_owner == bindparam("owner"))
    .values(
        status=ReplyStatus.SENT,
        sent_at=bindparam("at"),
        last_attempt_at=bindparam("at"),
        last_error=None,
        **_FREE,
    )
)
_UNREACHABLE = (
    update(_OUTBOX)
    .where(_ONE)
    .values(last_error=bindparam("error"), last_attempt_at=bindparam("at"), **_FREE)
)


class Outbox:
    """One sender's view of the outbox for one send phase. It holds one connection for
    the phase (a result is recorded in a fraction of a millisecond that way, against
    most of one for a fresh connection each time); use it as a context manager."""

    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner  # who holds the leases this object takes
        self._connection: Connection | None = None
        self._autocommit: Connection | None = None  # PostgreSQL: single-statement writes
        self._connection_lock = threading.Lock()
        self._autocommit_lock = threading.Lock()
        self._in_flight: ResultsInFlight | None = None  # PostgreSQL: results on their way
        path = journal_path(db)
        self._journal = None if path is None else SentJournal(path, db.busy_timeout)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._in_flight is not None:
            self._settled()
        if self._journal is not None:
            self.apply_journal()
            self._journal.close()
            self._journal = None
        for connection in (self._connection, self._autocommit):
            if connection is not None:
                connection.close()
        self._connection = self._autocommit = None

    @property
    def journalled(self) -> bool:
        """Results of sent replies go to the sender's journal (SQLite), not the outbox."""
        return self._journal is not None

    def apply_journal(self) -> int:
        """Write the journal's results into the outbox, in one transaction; how many."""
        if self._journal is None:
            return 0
        entries = self._journal.entries()
        if entries:
            params = _sent_by(entries)
            self._transaction(lambda connection: connection.execute(_SENT_BY, params))
            self._journal.forget(entries[-1].position)
        return len(entries)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        """`work` in a transaction of its own on the phase's connection; wait out a busy
        database, and reconnect after a lost connection."""

        def once() -> T:
            with self._connection_lock:
                if self._connection is None:
                    self._connection = self.db.engine.connect()
                try:
                    with self.db.transaction_on(self._connection) as connection:
                        return work(connection)
                except DBAPIError as exc:
                    if exc.connection_invalidated or self._connection.invalidated:
                        self._connection.close()
                        self._connection = None
                    raise

        return patiently(once)

    def _run(self, statement: Executable, params: dict[str, Any] | None = None) -> int:
        if self.db.dialect == "postgresql":
            return self._autocommitted(statement, params or {})
        return self._transaction(
            lambda connection: int(connection.execute(statement, params or {}).rowcount or 0)
        )

    def _autocommitted(self, statement: Executable, params: dict[str, Any]) -> int:
        """One statement, atomic on its own, in autocommit: one round trip to PostgreSQL
        instead of three (BEGIN, the statement, COMMIT), once per reply. A result still
        in flight is settled first, so the outbox sees the results in their order."""

        def once() -> int:
            with self._autocommit_lock:
                self._settle_locked()
                return self._execute_locked(statement, params)

        return patiently(once)

    def _autocommit_locked(self) -> Connection:
        if self._autocommit is None:
            self._autocommit = self.db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        return self._autocommit

    def _execute_locked(self, statement: Executable, params: dict[str, Any]) -> int:
        connection = self._autocommit_locked()
        try:
            return int(connection.execute(statement, params).rowcount or 0)
        except DBAPIError as exc:
            if exc.connection_invalidated or connection.invalidated:
                connection.close()
                self._autocommit = None
            raise

    def _settle_locked(self) -> None:
        """The answer of the result in flight read, and any that did not commit recorded
        again, the plain way (raises what the database raises; `redo` keeps them)."""
        if self._in_flight is None:
            return
        self._in_flight.settle()
        while self._in_flight.redo:
            reply_id, at = self._in_flight.redo[0]
            self._execute_locked(_SENT, {"reply_id": reply_id, "at": at})
            self._in_flight.redo.pop(0)

    def _settled(self) -> None:
        def once() -> None:
            with self._autocommit_lock:
                self._settle_locked()

        patiently(once)

    def take_back_leases(self) -> int:
        """Free the leases of other senders. Call only with the sender lock held
        (`pass_lock.SEND`): no other sender is alive then, so their leases belong to
        senders that died. Their journal is applied first: a reply they sent is not sent
        again."""
        self.apply_journal()
        return self._run(
            update(_OUTBOX)
            .where(_o.lease_owner.is_not(None), _o.lease_owner != self.owner)
            .values(**_FREE)
        )

    def claim(self, now: datetime, limit: int) -> list[OutgoingReply]:
        """Lease up to `limit` due replies, oldest first; committed before any is sent."""
        query = (
            sql_select(_o.id, _o.sender, _o.recipient, _o.message, _o.attempts)
            .where(
                _o.status == ReplyStatus.PENDING,
                _o.next_attempt_at <= now,
                or_(_o.lease_owner.is_(None), _o.lease_until < now),
            )
            .order_by(_o.id)
            .limit(limit)
        )
        if self.db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        self.apply_journal()  # the outbox a claim behind at most

        def lease(connection: Connection) -> list[OutgoingReply]:
            rows = connection.execute(query).all()
            if rows:
                connection.execute(
                    update(_OUTBOX)
                    .where(_o.id.in_([row.id for row in rows]))
                    .values(lease_owner=self.owner, lease_until=now + LEASE)
                )
            return [OutgoingReply(r.id, r.sender, r.recipient, r.message, r.attempts) for r in rows]

        return self._transaction(lease)

    def release_mine(self) -> None:
        """Give back the leases this sender still holds (the replies it did not send)."""
        self.apply_journal()
        self._run(update(_OUTBOX).where(_o.lease_owner == self.owner).values(**_FREE))

    def sent(self, reply_id: int, now: datetime) -> None:
        if self._journal is not None:
            self._journal.record(reply_id, self.owner, now)
        else:
            self._run(_SENT, {"reply_id": reply_id, "at": now})

    def sent_soon(self, reply_id: int, now: datetime) -> Callable[[], None]:
        """Record a sent reply; returns what finishes the record, to call before the next
        reply leaves. On PostgreSQL the record is on its way meanwhile (`pg_in_flight`);
        on SQLite the finisher makes it (the journal's insert, done while the next
        envelope travels)."""
        if self.db.dialect != "postgresql":
            return partial(self.sent, reply_id, now)
        from empikgo_mailer.adapters.pg_in_flight import (  # noqa: PLC0415 (PostgreSQL only)
            ResultsInFlight,
        )

        with self._autocommit_lock:
            if self._in_flight is None:
                self._in_flight = ResultsInFlight()
            try:
                self._settle_locked()
                driver = self._autocommit_locked().connection.dbapi_connection
            except DBAPIError:
                self._in_flight.redo.append((reply_id, now))  # recorded patiently below
            else:
                self._in_flight.send(cast("psycopg.Connection[object]", driver), reply_id, now)
        return self._settled

    def deferred(
        self, reply_id: int, now: datetime, error: str, attempts: int, next_at: datetime
    ) -> None:
        params = {"reply_id": reply_id, "at": now, "next_at": next_at}
        self._run(_DEFERRED, params | {"tries": attempts, "error": error[:2000]})

    def failed(self, reply_id: int, now: datetime, error: str, attempts: int) -> None:
        params = {"reply_id": reply_id, "at": now, "tries": attempts, "error": error[:2000]}
        self._run(_FAILED, params)

    def unreachable(self, reply_id: int, now: datetime, error: str) -> None:
        """The server could not be reached while this reply was next: the reply keeps its
        place and its tries; only the error is noted, for staff."""
        self._run(_UNREACHABLE, {"reply_id": reply_id, "at": now, "error": error[:2000]})


def _sent_by(entries: list[JournalEntry]) -> list[dict[str, Any]]:
    return [{"reply_id": e.reply_id, "owner": e.owner, "at": e.at} for e in entries]


def journal_into(db: Database, journal: Path) -> int:
    """Apply the sender journal at `journal` to `db` and leave the journal as it is: a
    backup of a database whose sender is busy learns what that sender has sent."""
    if not journal.exists():
        return 0
    reader = SentJournal(journal, db.busy_timeout)
    try:
        entries = reader.entries()
    finally:
        reader.close()
    if entries:
        with db.connection() as connection:
            connection.execute(_SENT_BY, _sent_by(entries))
    return len(entries)


def patiently(work: Callable[[], T]) -> T:
    """Retry while the database is busy (SQLite held by another process, a PostgreSQL
    restart): a reply that left must not lose its result to a lock, and a claim or a
    health note is better late than a pass that stops half-way."""
    deadline = time.monotonic() + RECORD_PATIENCE_SECONDS
    pause = 0.2
    while True:
        try:
            return work()
        except OperationalError as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("the database is busy (%s); trying again", exc.orig)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


class Links:
    """The health of the daemon's links, one row each."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, link: str) -> LinkState | None:
        with self.db.transaction() as session:
            return session.get(LinkState, link)

    def all(self) -> list[LinkState]:
        with self.db.transaction() as session:
            return list(session.exec(select(LinkState).order_by(col(LinkState.link))))

    def worked(self, link: str, now: datetime) -> None:
        def note() -> None:
            with self.db.transaction() as session:
                state = session.get(LinkState, link) or LinkState(link=link, ok=True)
                state.ok, state.failures, state.retry_at, state.last_ok_at = True, 0, None, now
                session.add(state)

        patiently(note)

    def failed(
        self, link: str, now: datetime, error: str, pause: Callable[[int], timedelta]
    ) -> LinkState:
        """Count a failure in a row; `pause(failures)` sets when to try the link again."""

        def note() -> LinkState:
            with self.db.transaction() as session:
                state = session.get(LinkState, link) or LinkState(link=link, ok=False)
                state.ok = False
                state.failures += 1
                state.errors_total += 1
                state.last_error = error[:2000]
                state.last_failure_at = now
                state.retry_at = now + pause(state.failures)
                session.add(state)
                return state

        return patiently(note)
