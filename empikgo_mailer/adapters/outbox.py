"""The outbox as the sender sees it: claim due replies with a lease, record each result
the moment the server has answered, and keep the health of each link (the SMTP circuit
breaker's state lives here, so every process sees it).

Every write is its own short Core transaction: a result is on disk before the next reply
is sent, so a crash repeats at most the one reply whose answer was not yet recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Table, or_, update
from sqlalchemy import select as sql_select
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel, col, select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import LinkState

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


class Outbox:
    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner  # who holds the leases this object takes

    def take_back_leases(self) -> int:
        """Free the leases of other senders. Call only with the pass lock held: no other
        sender is alive then, so their leases belong to passes that died."""
        return patiently(self._take_back)

    def _take_back(self) -> int:
        with self.db.connection() as connection:
            result = connection.execute(
                update(_OUTBOX)
                .where(
                    _OUTBOX.c.lease_owner.is_not(None),
                    _OUTBOX.c.lease_owner != self.owner,
                    _OUTBOX.c.status == "pending",
                )
                .values(lease_owner=None, lease_until=None)
            )
            return int(result.rowcount or 0)

    def claim(self, now: datetime, limit: int) -> list[OutgoingReply]:
        """Lease up to `limit` due replies, oldest first; committed before any is sent."""
        return patiently(lambda: self._claim(now, limit))

    def _claim(self, now: datetime, limit: int) -> list[OutgoingReply]:
        o = _OUTBOX.c
        query = (
            sql_select(o.id, o.sender, o.recipient, o.message, o.attempts)
            .where(
                o.status == "pending",
                o.next_attempt_at <= now,
                or_(o.lease_owner.is_(None), o.lease_until < now),
            )
            .order_by(o.id)
            .limit(limit)
        )
        if self.db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        with self.db.connection() as connection:
            rows = connection.execute(query).all()
            if rows:
                connection.execute(
                    update(_OUTBOX)
                    .where(o.id.in_([row.id for row in rows]))
                    .values(lease_owner=self.owner, lease_until=now + LEASE)
                )
        return [OutgoingReply(r.id, r.sender, r.recipient, r.message, r.attempts) for r in rows]

    def release(self, ids: Sequence[int]) -> None:
        """Give back leases on replies this pass will not send now."""
        if not ids:
            return
        self._write(
            lambda: self._update(ids, lease_owner=None, lease_until=None),
        )

    def sent(self, reply_id: int, now: datetime, detail: str) -> None:
        self._write(
            lambda: self._update(
                [reply_id],
                status="sent",
                sent_at=now,
                last_attempt_at=now,
                last_error=None,
                lease_owner=None,
                lease_until=None,
            )
        )
        del detail  # the server's "250 OK ...": nothing staff need

    def deferred(
        self, reply_id: int, now: datetime, error: str, attempts: int, next_at: datetime
    ) -> None:
        self._write(
            lambda: self._update(
                [reply_id],
                attempts=attempts,
                last_error=error[:2000],
                last_attempt_at=now,
                next_attempt_at=next_at,
                lease_owner=None,
                lease_until=None,
            )
        )

    def failed(self, reply_id: int, now: datetime, error: str, attempts: int) -> None:
        self._write(
            lambda: self._update(
                [reply_id],
                status="failed",
                attempts=attempts,
                last_error=error[:2000],
                last_attempt_at=now,
                lease_owner=None,
                lease_until=None,
            )
        )

    def unreachable(self, reply_id: int, now: datetime, error: str) -> None:
        """The server could not be reached while this reply was next: the reply keeps its
        place and its tries; only the error is noted, for staff."""
        self._write(
            lambda: self._update(
                [reply_id],
                last_error=error[:2000],
                last_attempt_at=now,
                lease_owner=None,
                lease_until=None,
            )
        )

    def _update(self, ids: Sequence[int], **values: object) -> None:
        with self.db.connection() as connection:
            connection.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(list(ids))).values(values))

    def _write(self, work: Callable[[], None]) -> None:
        patiently(work)


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
                state.last_error = error[:2000]
                state.last_failure_at = now
                state.retry_at = now + pause(state.failures)
                session.add(state)
                return state

        return patiently(note)
