"""PostgreSQL: a sent reply's result travels to the database while the next reply's
envelope travels to the SMTP server.

A result recorded the plain way costs the sender a round trip to PostgreSQL for every
reply, in series with the SMTP conversation (measured: some 230 µs a reply on two busy
cores, a quarter of the month-start burst's sending). libpq's asynchronous command
processing takes it out of the series: the UPDATE is sent at once (PQsendQueryPrepared)
and committed by the server on its own (the connection is in autocommit), and its answer
is read (PQgetResult) only when the next reply is about to leave, by when it is there.

The statement is prepared once per connection (PQprepare): parsing and planning it for
each of a burst's 10,000 replies would cost the database's CPU, which the deciding pass
shares on a small server.

A result whose answer is not a success (a lost connection, a restarting server) is kept
in `redo`: the outbox records it again the plain, patient way before anything else.
"""

from __future__ import annotations

import select
from datetime import UTC, datetime

import psycopg
from psycopg import pq

from empikgo_mailer.domain.statuses import ReplyStatus

SENT = (
    b"UPDATE outbox SET status = $3, sent_at = $2, last_attempt_at = $2, last_error = NULL,"
    b" lease_owner = NULL, lease_until = NULL WHERE id = $1"
)
_SENT_STATUS = str(ReplyStatus.SENT).encode()
PREPARED = b"empikgo_reply_sent"
ALREADY_PREPARED = "42P05"  # duplicate_prepared_statement: a pooled connection has it


class ResultsInFlight:
    """At most one result in flight on one connection (libpq runs one command at a
    time); sending the next one reads the answer of the one before."""

    def __init__(self) -> None:
        self._in_flight: tuple[int, datetime] | None = None
        self._pgconn: pq.abc.PGconn | None = None
        self._prepared_on: pq.abc.PGconn | None = None
        self.redo: list[tuple[int, datetime]] = []

    def send(self, connection: psycopg.Connection[object], reply_id: int, at: datetime) -> None:
        self.settle()
        pgconn = connection.pgconn
        params: list[bytes | None] = [
            str(reply_id).encode(),
            at.astimezone(UTC).isoformat().encode(),
            _SENT_STATUS,
        ]
        try:
            self._prepare(pgconn)
            pgconn.send_query_prepared(PREPARED, params)
        except psycopg.Error:
            self.redo.append((reply_id, at))
            return
        self._in_flight, self._pgconn = (reply_id, at), pgconn

    def settle(self) -> None:
        """Read the answer of the result in flight, if any; if it did not commit, the
        result goes to `redo`."""
        entry, pgconn = self._in_flight, self._pgconn
        if entry is None or pgconn is None:
            return
        self._in_flight = self._pgconn = None
        committed = True
        try:
            while (result := _next_result(pgconn)) is not None:
                committed = committed and result.status == pq.ExecStatus.COMMAND_OK
        except (psycopg.Error, OSError):
            committed = False
        if not committed:
            self.redo.append(entry)

    def _prepare(self, pgconn: pq.abc.PGconn) -> None:
        if self._prepared_on is pgconn:
            return
        result = pgconn.prepare(PREPARED, SENT)
        error = result.error_field(pq.DiagnosticField.SQLSTATE)
        if result.status != pq.ExecStatus.COMMAND_OK and error != ALREADY_PREPARED.encode():
            raise psycopg.OperationalError(pgconn.get_error_message())
        self._prepared_on = pgconn


def _next_result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    """The next answer, waited for in `select` (which lets other threads run: libpq's own
    blocking wait would hold the interpreter, and a signal, for as long as the database
    takes, a lock held elsewhere included)."""
    pgconn.consume_input()
    while pgconn.is_busy():
        select.select([pgconn.socket], [], [])
        pgconn.consume_input()
    return pgconn.get_result()
