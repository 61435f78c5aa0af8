"""The sender's bookkeeping beside the SMTP conversation, on real servers: the next
replies are claimed while the claimed ones go out, and a result is recorded while the
next reply's envelope travels. What must still hold: a reply's message reaches the
server only once the reply before it is recorded (so a crash repeats at most the reply
in flight); a record whose database connection was cut is made on a new one; a phase
told to stop leaves no reply leased; and a failing bookkeeper stops the message."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import col, select

from empikgo_mailer.adapters.outbox import Answer, Links, Outbox, Result
from empikgo_mailer.adapters.sent_journal import journal_path
from empikgo_mailer.adapters.smtp_sender import SendResult, SmtpSender
from empikgo_mailer.adapters.tables import OutboxMessage
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import SmtpSettings
from empikgo_mailer.handlers.mail_send import CLAIM_BATCH, SendReport, new_owner, send_outbox
from tests.conftest import fresh_database_url
from tests.support.config import settings_for
from tests.support.mail import FakeTransport
from tests.support.smtp import SmtpServer

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=ZoneInfo("Europe/Warsaw"))


@pytest.fixture
def pg_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    url = fresh_database_url("postgresql", tmp_path, request)
    application = bootstrap(settings_for(tmp_path, url))
    yield application
    application.db.dispose()


def outbox_of(app: App, count: int) -> list[int]:
    with app.db.transaction() as session:
        rows = [
            OutboxMessage(
                branch_id="multimedia",
                sender="multimedia@biblioteka.test",
                recipient=f"reader{n}@example.com",
                recipient_key=f"reader{n}@example.com",
                message_id=f"<r{n}@biblioteka.test>",
                message=f"To: reader{n}@example.com\r\nSubject: x\r\n\r\nx\r\n",
                next_attempt_at=NOW,
                created_at=NOW,
            )
            for n in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows if row.id is not None]


def recorded_as_sent(app: App) -> set[int]:
    """What a crash now would leave recorded: the outbox, and the journal on SQLite."""
    engine = create_engine(app.db.url)
    try:
        with engine.connect() as connection:
            ids = {
                int(row[0])
                for row in connection.execute(text("SELECT id FROM outbox WHERE status = 'sent'"))
            }
    finally:
        engine.dispose()
    journal = journal_path(app.db)
    if journal is not None and journal.exists():
        with sqlite3.connect(journal) as reader:
            ids |= {int(row[0]) for row in reader.execute("SELECT reply_id FROM sent")}
    return ids


def smtp_settings(server: SmtpServer) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", server.port, "none", None, None, 5)


def hold_records(app: App, reply_id: int, seconds: float) -> None:
    """Make the database keep the next record of `reply_id` waiting for `seconds`: its
    outbox row locked (PostgreSQL), or the sender's journal (SQLite)."""
    journal = journal_path(app.db)
    if journal is None:
        engine = create_engine(app.db.url)
        connection = engine.connect()
        transaction = connection.begin()
        connection.execute(
            text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": reply_id}
        )

        def release() -> None:
            transaction.commit()
            connection.close()
            engine.dispose()

    else:
        holder = sqlite3.connect(journal, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")

        def release() -> None:
            holder.execute("COMMIT")
            holder.close()

    threading.Timer(seconds, release).start()


def test_each_message_reaches_the_server_only_after_the_reply_before_it_is_recorded(
    app: App, smtp: SmtpServer
) -> None:
    count = 40
    ids = outbox_of(app, count)
    recorded_at_data: list[int] = []

    def on_accept(accepted: int) -> None:
        recorded_at_data.append(len(recorded_as_sent(app)))
        if accepted == 5:  # the fifth reply's record will wait: the sixth must wait too
            hold_records(app, ids[4], 0.5)

    smtp.sink.on_accept = on_accept

    async def send() -> SendReport:
        async with SmtpSender(smtp_settings(smtp)) as transport:
            with Outbox(app.db, new_owner()) as outbox:
                return await send_outbox(
                    outbox=outbox, links=Links(app.db), transport=transport, clock=lambda: NOW
                )

    report = asyncio.run(send())
    assert report.sent == count
    # At the k-th message's DATA exactly the k-1 before it are recorded: never fewer (a
    # crash would repeat more than the reply in flight), never this one (it has not left).
    assert recorded_at_data == list(range(count))
    assert len(recorded_as_sent(app)) == count


def test_a_result_whose_connection_was_cut_is_recorded_on_a_new_one(pg_app: App) -> None:
    """PostgreSQL's results connection (on SQLite sent replies go to the journal)."""
    app = pg_app
    first, second, third = outbox_of(app, 3)
    with Outbox(app.db, new_owner()) as outbox:
        assert len(outbox.claim(NOW, 10)) == 3
        outbox.record([Result(first, Answer.SENT, NOW)])
        with app.db.connection() as admin:  # the server drops every other session
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        outbox.record([Result(second, Answer.SENT, NOW), Result(third, Answer.SENT, NOW)])
    with app.db.transaction() as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        assert [(row.id, row.status, row.lease_owner) for row in rows] == [
            (first, "sent", None),
            (second, "sent", None),
            (third, "sent", None),
        ]
        assert {row.sent_at for row in rows} == {NOW}


def test_a_phase_told_to_stop_leaves_no_reply_leased_and_the_next_sends_the_rest(
    app: App,
) -> None:
    count = CLAIM_BATCH * 2 + 200  # the next claims are made while replies go out
    outbox_of(app, count)
    transport = FakeTransport()
    stop_after = CLAIM_BATCH + 100

    def send(should_stop: bool) -> SendReport:
        with Outbox(app.db, new_owner()) as outbox:
            return asyncio.run(
                send_outbox(
                    outbox=outbox,
                    links=Links(app.db),
                    transport=transport,
                    clock=lambda: NOW,
                    should_stop=lambda: should_stop and len(transport.sent) >= stop_after,
                )
            )

    assert send(should_stop=True).sent == stop_after
    with app.db.transaction() as session:
        rows = session.exec(select(OutboxMessage)).all()
        assert sum(row.status == "sent" for row in rows) == stop_after
        assert [row.id for row in rows if row.lease_owner is not None] == []
    assert send(should_stop=False).sent == count - stop_after
    recipients = [str(message["To"]) for message in transport.sent]
    assert len(recipients) == len(set(recipients)) == count


def test_a_message_waits_for_the_caller_and_does_not_leave_when_its_bookkeeping_fails(
    smtp: SmtpServer,
) -> None:
    class DatabaseGone(Exception):
        pass

    async def fails() -> None:
        raise DatabaseGone

    async def scenario() -> list[SendResult]:
        async with SmtpSender(smtp_settings(smtp)) as sender:
            message = b"To: r@example.com\r\nSubject: x\r\n\r\nok\r\n"
            with pytest.raises(DatabaseGone):
                await sender.send("multimedia@biblioteka.test", "r0@example.com", message, fails)
            delivery = await sender.send("multimedia@biblioteka.test", "r1@example.com", message)
            return [delivery.result]

    assert asyncio.run(scenario()) == [SendResult.SENT]
    assert [rcpt for _, rcpt, _ in smtp.sink.accepted] == [["r1@example.com"]]
