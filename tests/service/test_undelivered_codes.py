"""A code that never reached its reader is not a code given (RULES section 8): the reply
refused for good makes the code undelivered, staff see it, the month close bans nobody
for it, and staff send it again to a corrected address or return it to the pool."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from empikgo_mailer.adapters.outbox import Links, Outbox
from empikgo_mailer.adapters.smtp_sender import SendResult
from empikgo_mailer.adapters.tables import Ban, Code, Issuance, OutboxMessage
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.statuses import CodeStatus, ReplyStatus
from empikgo_mailer.handlers.filing import FileDecided
from empikgo_mailer.handlers.mail import DecideQueue
from empikgo_mailer.handlers.mail_send import SendReport, new_owner, send_outbox
from empikgo_mailer.handlers.mail_status import ShowMailStatus
from empikgo_mailer.handlers.month_close import CloseMonth
from empikgo_mailer.handlers.patrons import ImportPatrons, import_patrons
from empikgo_mailer.handlers.set_aside import RetryReplies
from empikgo_mailer.handlers.undelivered import ReturnCode, SendCodeAgain
from tests.support.config import settings_for
from tests.support.data import add_codes
from tests.support.mail import FakeMailbox, FakeTransport, collect, fixture, reply_text

WARSAW = ZoneInfo("Europe/Warsaw")
NOVEMBER = Month(2026, 11)
OPENING = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)
LATER = datetime(2026, 11, 3, 11, 0, tzinfo=WARSAW)
PATRONS = Path(__file__).parents[2] / "fixtures" / "patrons.csv"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    application = bootstrap(settings_for(tmp_path, database_url))
    import_patrons(ImportPatrons(PATRONS), uow=application.uow(), now=OPENING)
    add_codes(application.db, Platform.EMPIK_GO, NOVEMBER, "multimedia", ["EGM-1", "EGM-2"])
    yield application
    application.db.dispose()


def send(app: App, transport: FakeTransport, now: datetime) -> SendReport:
    with Outbox(app.db, new_owner()) as outbox:
        return asyncio.run(
            send_outbox(outbox=outbox, links=Links(app.db), transport=transport, clock=lambda: now)
        )


def request_and_refuse(app: App, box: FakeMailbox, transport: FakeTransport) -> SendReport:
    """Łukasz asks (gmail.eml) and the server refuses his code reply for good."""
    box.deliver(fixture("gmail.eml"), OPENING)
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: OPENING)
    app.handle(DecideQueue("multimedia"), clock=lambda: OPENING)
    app.handle(FileDecided("multimedia"), mailbox=box, clock=lambda: OPENING)
    transport.script = [SendResult.PERMANENT]
    return send(app, transport, OPENING)


def undelivered(app: App) -> list[Issuance]:
    with app.db.transaction() as session:
        return list(session.exec(select(Issuance).where(col(Issuance.undelivered_at).is_not(None))))


def test_a_refused_code_is_undelivered_shown_to_staff_and_bans_nobody(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    report = request_and_refuse(app, box, transport)
    assert (report.failed, report.undelivered, transport.sent) == (1, 1, [])

    [issuance] = undelivered(app)
    assert issuance.undelivered_reason == "permanent scripted"
    queue = next(
        q for q in app.handle(ShowMailStatus(), now=OPENING).queues if q.branch_id == "multimedia"
    )
    [shown] = queue.undelivered_codes
    assert (shown.card_number, shown.sent_to, shown.reason) == (
        "1000001",
        "lukasz.zak@example.com",
        "permanent scripted",
    )
    assert queue.outbox_failed == 1 and queue.failed_replies == []  # shown once, as a code

    closed = app.handle(CloseMonth(NOVEMBER), now=datetime(2026, 12, 1, 0, 5, tzinfo=WARSAW))
    assert (closed.expired, closed.banned, closed.undelivered) == (0, 0, 1)
    with app.db.transaction() as session:
        assert session.exec(select(Ban)).all() == []


def test_staff_return_the_code_to_the_pool_and_the_reader_may_ask_again(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    request_and_refuse(app, box, transport)
    [issuance] = undelivered(app)
    assert issuance.id is not None

    done = app.handle(ReturnCode(issuance.id, "multimedia", "anna"), now=LATER)
    assert done.done and "może w tym miesiącu dostać kod ponownie" in done.message
    again = app.handle(ReturnCode(issuance.id, "multimedia", "anna"), now=LATER)
    assert not again.done  # the second click changes nothing
    with app.db.transaction() as session:
        code = session.exec(select(Code).where(Code.value == "EGM-1")).one()
        assert code.status == CodeStatus.FREE
        assert session.exec(select(Issuance)).all() == []

    # The reader writes again (a new message): a code of the month is theirs again.
    box.deliver(fixture("gmail.eml").replace(b"gmail0001", b"gmail0002"), LATER)
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: LATER)
    app.handle(DecideQueue("multimedia"), clock=lambda: LATER)
    send(app, transport, LATER)
    [reply] = transport.sent
    assert "oto Twój kod" in reply_text(reply)


def test_staff_send_the_code_again_once_the_address_is_corrected(app: App, tmp_path: Path) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    request_and_refuse(app, box, transport)
    [issuance] = undelivered(app)
    assert issuance.id is not None

    same = app.handle(SendCodeAgain(issuance.id, "multimedia", "anna"), now=LATER)
    assert not same.done and "który serwer odrzucił" in same.message

    corrected = tmp_path / "patrons.csv"
    corrected.write_text(
        PATRONS.read_text(encoding="utf-8-sig").replace(
            "lukasz.zak@example.com", "lukasz.zak@poczta.example.org"
        ),
        encoding="utf-8",
    )
    import_patrons(ImportPatrons(corrected), uow=app.uow(), now=LATER)
    done = app.handle(SendCodeAgain(issuance.id, "multimedia", "anna"), now=LATER)
    assert done.done, done.message
    assert undelivered(app) == []

    report = send(app, transport, LATER)
    assert report.sent == 1
    [reply] = transport.sent
    assert str(reply["To"]) == "lukasz.zak@poczta.example.org"
    assert "EGM-1" in reply_text(reply)
    with app.db.transaction() as session:
        statuses = session.exec(select(OutboxMessage.status).order_by(col(OutboxMessage.id)))
        assert list(statuses) == [ReplyStatus.FAILED, ReplyStatus.SENT]


BOUNCES = Path(__file__).parents[2] / "fixtures" / "mail" / "bounces"


@pytest.mark.parametrize(
    ("report", "undelivered_for_good"),
    [
        ("postfix_user_unknown.eml", True),
        ("exchange_pl.eml", True),  # "Niedostarczalne: Re: EMPIK GO"
        ("exchange_en.eml", True),
        ("gmail_address_not_found.eml", True),
        ("exim_failed.eml", True),
        ("mailbox_full.eml", False),  # 5.2.2: the reader may empty it
        ("postfix_delayed.eml", False),  # 4.4.1: still trying
    ],
)
def test_a_delivery_report_about_a_code_is_read_filed_and_never_answered(
    app: App, report: str, undelivered_for_good: bool
) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    box.deliver(fixture("gmail.eml"), OPENING)
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: OPENING)
    app.handle(DecideQueue("multimedia"), clock=lambda: OPENING)
    send(app, transport, OPENING)
    raw = (BOUNCES / report).read_bytes()
    # The report names the reply it returns by that reply's Message-ID.
    [original] = {m.decode() for m in re.findall(rb"<\d+\.2841\.\d+\.empikgo@[^>]+>", raw)}
    with app.db.transaction() as session:
        reply = session.exec(select(OutboxMessage)).one()
        reply.message_id = original
        session.add(reply)

    box.deliver(raw, LATER)
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: LATER)
    app.handle(DecideQueue("multimedia"), clock=lambda: LATER)
    app.handle(FileDecided("multimedia"), mailbox=box, clock=lambda: LATER)
    send(app, transport, LATER)

    assert len(transport.sent) == 1  # the code's reply; the report is never answered
    assert box.folders["Empik Go - zwroty"] == [raw]
    codes = undelivered(app)
    with app.db.transaction() as session:
        status = session.exec(select(OutboxMessage.status)).one()
    if undelivered_for_good:
        assert len(codes) == 1 and codes[0].undelivered_reason
        assert status == ReplyStatus.BOUNCED
    else:
        assert codes == []
        assert status == ReplyStatus.SENT


def test_after_an_outage_staff_send_the_waiting_and_failed_replies_now(app: App) -> None:
    """Issue 30: the retry schedule may wait an hour; `replies retry` and the console's
    "Wyślij teraz" make every waiting reply due now, send failed refusals again, clear the
    SMTP breaker's pause, and leave an undelivered code to its own actions."""
    box, transport = FakeMailbox(), FakeTransport()
    box.deliver(fixture("gmail.eml"), OPENING)  # Łukasz: a code
    box.deliver(fixture("debt.eml"), OPENING)  # Jan: a refusal
    box.deliver(fixture("phone.eml"), OPENING)  # another code
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: OPENING)
    app.handle(DecideQueue("multimedia"), clock=lambda: OPENING)
    # Codes go first: one refused for good, one deferred; then the refusal, refused.
    transport.script = [SendResult.PERMANENT, SendResult.TEMPORARY, SendResult.PERMANENT]
    report = send(app, transport, OPENING)
    assert (report.failed, report.undelivered, report.deferred) == (2, 1, 1)
    Links(app.db).failed("smtp", OPENING, "refused", lambda _: timedelta(hours=1))

    soon = OPENING + timedelta(seconds=30)  # before the deferred reply's next try
    done = app.handle(RetryReplies(None, "anna"), now=soon)
    assert done.done, done.message
    assert "czekające 1, niewysłane wcześniej 1" in done.message
    again = send(app, transport, soon)
    assert (again.sent, again.paused_until) == (2, None)
    assert len(undelivered(app)) == 1  # the code waits for its own actions
    nothing = app.handle(RetryReplies("multimedia", "anna"), now=soon)
    assert not nothing.done
