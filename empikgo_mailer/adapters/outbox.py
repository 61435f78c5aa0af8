"""The outbox as the sender sees it: claim due replies with a lease, record the servers'
answers, and keep the health of each link (the SMTP circuit breaker's state lives here,
so every process sees it).

Results are recorded with one call, `Outbox.record`, a batch at a time: the send phase
hands it every answer that came while the previous batch was being written (a group
commit), and a session's next message leaves only once its previous result is recorded,
so a crash repeats at most the one reply in flight on each session. On PostgreSQL a batch
is one pipelined `executemany` on an autocommit connection (each UPDATE atomic on its
own); on SQLite, sent replies go to the sender's journal (`sent_journal`) and reach the
outbox a batch at a time, the other results in one transaction.

A claim and a batch of results may be on their way at the same time, from two threads:
each has its own connection (and a lock), so a claim waiting for a busy database never
holds up a result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Table, Update, bindparam, or_, update
from sqlalchemy import select as sql_select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import SQLModel, col, select

from empikgo_mailer.adapters.database import Database, is_disk_full, place_of
from empikgo_mailer.adapters.sent_journal import JournalEntry, SentJournal, journal_path
from empikgo_mailer.adapters.tables import LinkState
from empikgo_mailer.domain.errors import DiskFull
from empikgo_mailer.domain.statuses import ReplyStatus

log = logging.getLogger(__name__)
T = TypeVar("T")
_OUTBOX: Table = SQLModel.metadata.tables["outbox"]
_ISSUANCE: Table = SQLModel.metadata.tables["issuance"]
LEASE = timedelta(minutes=10)
# How long a result waits for a database held by someone else before the pass gives up
# on it (and the reply may be sent once more by a later pass).
RECORD_PATIENCE_SECONDS = 300.0


class Answer(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"  # 4xx: tried again at `next_at`
    FAILED = "failed"  # for good: shown to staff
    UNREACHABLE = "unreachable"  # the server could not be reached: the reply keeps its place


@dataclass(frozen=True)
class Result:
    """What became of one reply, as the outbox records it."""

    reply_id: int
    answer: Answer
    at: datetime
    error: str = ""
    attempts: int = 0
    next_at: datetime | None = None
    issuance_id: int | None = None  # the code the reply carries

    def params(self) -> dict[str, Any]:
        return {
            "reply_id": self.reply_id,
            "at": self.at,
            "error": self.error[:2000],
            "tries": self.attempts,
            "next_at": self.next_at,
        }


@dataclass(frozen=True)
class OutgoingReply:
    id: int
    sender: str
    recipient: str
    message: str
    attempts: int
    issuance_id: int | None = None  # the code it carries, if any


_o = _OUTBOX.c
_ONE = _o.id == bindparam("reply_id")
_FREE = {"lease_owner": None, "lease_until": None}


def _one_reply(*also: ColumnElement[bool], **values: Any) -> Update:
    """An UPDATE of the reply `reply_id` that also gives its lease back."""
    return update(_OUTBOX).where(_ONE, *also).values(**values, **_FREE)


def _sent() -> dict[str, Any]:
    at = bindparam("at", type_=_o.sent_at.type)  # one value for both columns
    return {"status": ReplyStatus.SENT, "sent_at": at, "last_attempt_at": at, "last_error": None}


_SENT = _one_reply(**_sent())
_DEFERRED = _one_reply(
    attempts=bindparam("tries"),
    last_error=bindparam("error"),
    last_attempt_at=bindparam("at"),
    next_attempt_at=bindparam("next_at"),
)
_FAILED = _one_reply(
    status=ReplyStatus.FAILED,
    attempts=bindparam("tries"),
    last_error=bindparam("error"),
    last_attempt_at=bindparam("at"),
)
# A journal entry, applied only while the sender that wrote it still holds the lease: an
# entry applied once already (a crash between applying and forgetting) changes nothing.
_SENT_BY = _one_reply(_o.lease_owner == bindparam("owner"), **_sent())
_UNREACHABLE = _one_reply(last_error=bindparam("error"), last_attempt_at=bindparam("at"))
# A reply carrying a code refused for good: the code never reached its reader (RULES
# section 8), so the month close does not ban anyone for it.
UNDELIVERED = (
    update(_ISSUANCE)
    .where(_ISSUANCE.c.id == bindparam("issuance_id"))
    .values(undelivered_at=bindparam("at"), undelivered_reason=bindparam("error"))
)
_RECORDS = {
    Answer.SENT: _SENT,
    Answer.DEFERRED: _DEFERRED,
    Answer.FAILED: _FAILED,
    Answer.UNREACHABLE: _UNREACHABLE,
}


class Outbox:
    """One sender's view of the outbox for one send phase. It holds its connections for
    the phase (a result is recorded in a fraction of a millisecond that way, against most
    of one for a fresh connection each time); use it as a context manager."""

    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner  # who holds the leases this object takes
        self._claims = _Line(db)
        self._results = _Line(db, autocommit=db.dialect == "postgresql")
        path = journal_path(db)
        self._journal = None if path is None else SentJournal(path, db.busy_timeout)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        # The journal is applied when there is room (a full disk raises DiskFull); its
        # file and the connections are closed either way: what it holds waits there for
        # the next sender.
        try:
            if self._journal is not None:
                try:
                    self.apply_journal()
                finally:
                    self._journal.close()
                    self._journal = None
        finally:
            self._claims.close()
            self._results.close()

    def apply_journal(self) -> int:
        """Write the journal's results into the outbox, in one transaction; how many."""
        if self._journal is None:
            return 0
        entries = self._journal.entries()
        if entries:
            params = _sent_by(entries)
            self._claims.run(lambda connection: connection.execute(_SENT_BY, params))
            self._journal.forget(entries[-1].position)
        return len(entries)

    def record(self, results: Sequence[Result]) -> None:
        """Record a batch of results; when it returns they are on disk."""
        journal = self._journal
        if journal is not None:
            sent = [(r.reply_id, r.at) for r in results if r.answer is Answer.SENT]
            if sent:
                journal.record(self.owner, sent)
            results = [r for r in results if r.answer is not Answer.SENT]
        by_answer: dict[Answer, list[dict[str, Any]]] = {}
        for result in results:
            by_answer.setdefault(result.answer, []).append(result.params())
        undelivered = [
            {"issuance_id": r.issuance_id, "at": r.at, "error": r.error[:2000]}
            for r in results
            if r.answer is Answer.FAILED and r.issuance_id is not None
        ]

        def write(connection: Connection) -> None:
            if undelivered:  # first: on PostgreSQL each statement commits on its own
                connection.execute(UNDELIVERED, undelivered)
            for answer, params in by_answer.items():
                connection.execute(_RECORDS[answer], params)

        if by_answer:
            self._results.run(write)

    def take_back_leases(self) -> int:
        """Free the leases of other senders. Call only with the sender lock held
        (`pass_lock.SEND`): no other sender is alive then, so their leases belong to
        senders that died. Their journal is applied first: a reply they sent is not sent
        again."""
        self.apply_journal()
        statement = (
            update(_OUTBOX)
            .where(_o.lease_owner.is_not(None), _o.lease_owner != self.owner)
            .values(**_FREE)
        )
        return self._claims.run(lambda connection: int(connection.execute(statement).rowcount))

    def claim(self, now: datetime, limit: int) -> list[OutgoingReply]:
        """Lease up to `limit` due replies, codes first, then oldest first; committed before
        any is sent."""
        query = (
            sql_select(_o.id, _o.sender, _o.recipient, _o.message, _o.attempts, _o.issuance_id)
            .where(
                _o.status == ReplyStatus.PENDING,
                _o.next_attempt_at <= now,
                or_(_o.lease_owner.is_(None), _o.lease_until < now),
            )
            # Codes first (RULES section 8): a flood of refusals never delays them.
            .order_by(_o.priority, _o.id)
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
            return [OutgoingReply(*row) for row in rows]

        return self._claims.run(lease)

    def release_mine(self) -> None:
        """Give back the leases this sender still holds (the replies it did not send)."""
        self.apply_journal()
        statement = update(_OUTBOX).where(_o.lease_owner == self.owner).values(**_FREE)
        self._claims.run(lambda connection: connection.execute(statement))


class _Line:
    """One connection kept for a send phase, used by one thread at a time; each `run` is
    a transaction of its own (or, `autocommit`, each statement is). A busy database is
    waited out, and a lost connection replaced; a full disk raises DiskFull at once."""

    def __init__(self, db: Database, *, autocommit: bool = False) -> None:
        self.db, self.autocommit = db, autocommit
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def run(self, work: Callable[[Connection], T]) -> T:
        def once() -> T:
            # Opening a connection on a full disk fails as a "disk I/O error" too.
            with self._lock, self.db.full_disk_as_error():
                if self._connection is None:
                    connection = self.db.engine.connect()
                    if self.autocommit:
                        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                    self._connection = connection
                try:
                    if self.autocommit:
                        return work(self._connection)
                    with self.db.transaction_on(self._connection) as connection:
                        return work(connection)
                except DBAPIError as exc:
                    if exc.connection_invalidated or self._connection.invalidated:
                        self._connection.close()
                        self._connection = None
                    raise

        return patiently(once, self.db.file)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


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


def patiently(work: Callable[[], T], where: Path | None = None) -> T:
    """Retry while the database is busy (SQLite held by another process, a PostgreSQL
    restart): a reply that left must not lose its result to a lock, and a claim or a
    health note is better late than a pass that stops half-way.

    A full disk is not busy: waiting frees no space, and a pass that waited would hold
    its locks for minutes and then fail all the same. It raises DiskFull at once (on
    SQLite what left is in the sender's journal, which keeps room for it). `where`: the
    SQLite file, to tell a "disk I/O error" of a full disk."""
    deadline = time.monotonic() + RECORD_PATIENCE_SECONDS
    pause = 0.2
    while True:
        try:
            return work()
        except OperationalError as exc:
            if is_disk_full(exc, where):
                raise DiskFull(place_of(where)) from exc
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

    def try_now(self, link: str) -> None:
        """Staff asked to try the link now: its breaker's pause ends (its failures stay
        counted, so the next failure pauses it as long as before)."""

        def note() -> None:
            with self.db.transaction() as session:
                state = session.get(LinkState, link)
                if state is not None and state.retry_at is not None:
                    state.retry_at = None
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
