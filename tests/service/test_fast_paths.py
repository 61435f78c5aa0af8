"""Service level: what the fast paths of issue 14 must keep. A batch of the mail queue
decides as one request at a time would; the per-card limit counted a batch at a time
counts as one claim at a time would; further SMTP sessions never send a reply twice and
never take the whole server for unreachable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from empikgo_mailer.adapters.claim_limits import DatabaseRateLimiter
from empikgo_mailer.adapters.outbox import Links, Outbox
from empikgo_mailer.adapters.smtp_sender import (
    BeforeData,
    Delivery,
    SendResult,
    nothing_to_wait_for,
)
from empikgo_mailer.adapters.tables import Issuance, MailRequest, OutboxMessage
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.handlers.mail import DecideQueue
from empikgo_mailer.handlers.mail_send import SendReport, new_owner, send_outbox
from empikgo_mailer.handlers.patrons import ImportPatrons, import_patrons
from tests.support.config import settings_for
from tests.support.data import add_codes
from tests.support.mail import FakeMailbox, FakeTransport, collect, fixture

WARSAW = ZoneInfo("Europe/Warsaw")
FIRST_SECOND = datetime(2026, 11, 1, 0, 0, 1, tzinfo=WARSAW)
OPENING = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)
PATRONS = Path(__file__).parents[2] / "fixtures" / "patrons.csv"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    application = bootstrap(settings_for(tmp_path, database_url))
    import_patrons(ImportPatrons(PATRONS), uow=application.uow(), now=FIRST_SECOND)
    add_codes(
        application.db,
        Platform.EMPIK_GO,
        Month(2026, 11),
        "multimedia",
        [f"EGM-{n:04d}" for n in range(20)],
    )
    yield application
    application.db.dispose()


def test_one_reader_writing_twice_in_one_batch_gets_one_code(app: App) -> None:
    box = FakeMailbox()
    first = fixture("gmail.eml")
    box.deliver(first, FIRST_SECOND)
    # The same reader again a minute later, in another message: one batch holds both.
    box.deliver(first.replace(b"CAJx8gmail0001", b"CAJx8gmail0002"), FIRST_SECOND)
    box.deliver(fixture("thunderbird.eml"), FIRST_SECOND)
    clock = lambda: OPENING  # noqa: E731
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=clock)
    report = app.handle(DecideQueue("multimedia"), clock=clock)
    assert report.outcomes == {"issued": 2, "already-has-code": 1}
    with app.db.transaction() as session:
        rows = list(session.exec(select(MailRequest).order_by(col(MailRequest.uid))))
        issuances = list(session.exec(select(Issuance).order_by(col(Issuance.id))))
        replies = list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))
    assert [r.outcome for r in rows] == ["issued", "already-has-code", "issued"]
    # Codes in receipt order, one issuance per code, each request pointing at its own.
    assert [i.code_id for i in issuances] == [1, 2]
    assert [r.issuance_id for r in rows] == [issuances[0].id, None, issuances[1].id]
    assert "EGM-0000" in replies[0].message and "EGM-0001" in replies[2].message
    assert "EGM-" not in replies[1].message
    assert all(r.rules for r in rows)  # every rule and verdict kept for staff


def test_the_limit_counts_a_batch_as_one_claim_after_another(app: App) -> None:
    now = [1000.0]
    limiter = DatabaseRateLimiter(app.db, 3, window=60.0, clock=lambda: now[0])
    with app.db.connection() as connection:
        waits = limiter.retry_after_many(connection, ["A", "B", "A", "A", "A", "B"])
    assert waits[:4] == [None, None, None, None]  # A's first three, B's first
    assert waits[4] == pytest.approx(60.0)  # A's fourth: the window began at its first
    assert waits[5] is None  # B's second
    now[0] = 1030.0
    assert limiter.retry_after("A") == pytest.approx(30.0)  # counted in the database
    now[0] = 1061.0
    assert limiter.retry_after("A") is None  # a new window


class SessionLimitedServer:
    """A server that takes two sessions: the third is refused as a 421 would be."""

    def __init__(self) -> None:
        self.delivered: list[str] = []

    def session(self, number: int) -> FakeLane:
        return FakeLane(self, refused=number >= 2)


class FakeLane:
    def __init__(self, server: SessionLimitedServer, *, refused: bool) -> None:
        self.server, self.refused = server, refused

    async def probe(self) -> str | None:
        return None

    async def send(
        self,
        sender: str,
        recipient: str,
        message: bytes,
        before_data: BeforeData = nothing_to_wait_for,
    ) -> Delivery:
        await asyncio.sleep(0)  # the others go on while this one waits for the server
        if self.refused:
            return Delivery(SendResult.UNREACHABLE, "421 too many sessions")
        await before_data()
        self.server.delivered.append(recipient)
        return Delivery(SendResult.SENT, "250 ok")


def _outbox_of(app: App, count: int) -> None:
    with app.db.transaction() as session:
        for n in range(count):
            session.add(
                OutboxMessage(
                    branch_id="multimedia",
                    sender="multimedia@biblioteka.test",
                    recipient=f"reader{n}@example.com",
                    recipient_key=f"reader{n}@example.com",
                    message_id=f"<r{n}@biblioteka.test>",
                    message="Subject: x\n\nx\n",
                    next_attempt_at=OPENING,
                    created_at=OPENING,
                )
            )


def _send_over(app: App, lanes: list[FakeLane]) -> SendReport:
    with Outbox(app.db, new_owner()) as outbox:
        return asyncio.run(
            send_outbox(
                outbox=outbox,
                links=Links(app.db),
                transport=lanes[0],
                more_transports=lanes[1:],
                clock=lambda: OPENING,
            )
        )


def test_further_sessions_send_each_reply_once_and_a_refused_one_steps_aside(app: App) -> None:
    _outbox_of(app, 120)
    server = SessionLimitedServer()
    report = _send_over(app, [server.session(n) for n in range(3)])
    assert report.sent == 120 and report.unreachable is None and report.paused_until is None
    assert sorted(server.delivered) == sorted(f"reader{n}@example.com" for n in range(120))
    smtp = Links(app.db).get("smtp")
    assert smtp is not None and smtp.ok and smtp.failures == 0


def test_with_every_session_refused_the_server_is_unreachable_and_nothing_is_lost(
    app: App,
) -> None:
    _outbox_of(app, 10)
    refused = SessionLimitedServer()
    report = _send_over(app, [refused.session(5) for _ in range(3)])
    assert report.sent == 0 and report.unreachable == "421 too many sessions"
    assert report.paused_until is not None  # the breaker is open
    with app.db.transaction() as session:
        pending = session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        assert len(list(pending)) == 10
    # Afterwards one session is enough again.
    transport = FakeTransport()
    with Outbox(app.db, new_owner()) as outbox:
        asyncio.run(
            send_outbox(
                outbox=outbox,
                links=Links(app.db),
                transport=transport,
                clock=lambda: report.paused_until or OPENING,
            )
        )
    assert len(transport.sent) == 10
