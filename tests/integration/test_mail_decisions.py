"""Service level: each fixture from a real mail client through queue, decision, filing and
outbox, with an in-memory mailbox and transport (the real servers are tested elsewhere)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from empikgo_mailer.adapters.outbox import Links, Outbox
from empikgo_mailer.adapters.smtp_sender import SendResult
from empikgo_mailer.adapters.tables import Issuance, MailRequest, OutboxMessage
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.mail import MailDoor, decide_queue
from empikgo_mailer.handlers.mail_send import new_owner, send_outbox
from empikgo_mailer.handlers.mailbox import collect, file_decided
from empikgo_mailer.handlers.patrons import ImportPatrons, import_patrons
from empikgo_mailer.handlers.report import ShowMonthReport, month_report
from empikgo_mailer.handlers.service import SwitchService, switch_service
from tests.support.config import settings_for
from tests.support.data import add_codes
from tests.support.mail import FakeMailbox, FakeTransport, fixture, reply_text

WARSAW = ZoneInfo("Europe/Warsaw")
FIRST_SECOND = datetime(2026, 11, 1, 0, 0, 1, tzinfo=WARSAW)
OPENING = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)
PATRONS = Path(__file__).parents[2] / "fixtures" / "patrons.csv"

# fixture -> (outcome, folder, words the reply must contain); None outcome: not ours
EXPECTED: dict[str, tuple[str | None, str | None, str | None]] = {
    "gmail.eml": ("issued", "Empik Go - wydane", "oto Twój kod do platformy Empik Go"),
    "outlook_html_only.eml": ("issued", "Empik Go - wydane", "oto Twój kod"),
    "thunderbird.eml": ("issued", "Empik Go - wydane", "oto Twój kod"),
    "apple_mail.eml": ("issued", "Empik Go - wydane", "oto Twój kod"),
    "phone.eml": ("issued", "Empik Go - wydane", "oto Twój kod"),
    "quoted_reply.eml": ("issued", "Empik Go - wydane", "oto Twój kod"),
    "encoded_subject.eml": ("issued", "Empik Go - wydane", "oto Twój kod"),
    "broken_mime.eml": ("issued", "Empik Go - wydane", "oto Twój kod"),
    "vacation_autoreply.eml": ("automatic", "Empik Go - dla obsługi", None),
    "bounce_with_subject.eml": ("automatic", "Empik Go - dla obsługi", None),
    "bounce.eml": (None, None, None),
    "other_subject.eml": (None, None, None),
    "no_card.eml": ("card-missing", "Empik Go - dla obsługi", "nie znaleźliśmy numeru karty"),
    "two_cards.eml": (
        "card-missing",
        "Empik Go - dla obsługi",
        "więcej niż jeden numer karty (1000003, 1000004)",
    ),
    "wrong_sender.eml": ("sender-mismatch", "Empik Go - odmowy", "tylko na adres e-mail zapisany"),
    "debt.eml": ("debt", "Empik Go - odmowy", "jest zaległość (1,20 zł)"),
}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """On SQLite and on PostgreSQL."""
    application = bootstrap(settings_for(tmp_path, database_url))
    import_patrons(ImportPatrons(PATRONS), db=application.db, now=FIRST_SECOND)
    codes = [f"EGM-{n:04d}" for n in range(20)]
    add_codes(application.db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", codes)
    yield application
    application.db.dispose()


def door(app: App) -> MailDoor:
    return MailDoor(app.db, app.library, app.debt_source, app.templates.render, app.settings.mail)


def send(app: App, transport: FakeTransport, clock: Callable[[], datetime]) -> None:
    outbox = Outbox(app.db, new_owner())
    asyncio.run(send_outbox(outbox=outbox, links=Links(app.db), transport=transport, clock=clock))


def run(app: App, box: FakeMailbox, transport: FakeTransport, now: datetime) -> None:
    clock = lambda: now  # noqa: E731
    collect("multimedia", box, db=app.db, mail=app.settings.mail, clock=clock)
    decide_queue("multimedia", door=door(app), clock=clock)
    file_decided("multimedia", box, db=app.db, mail=app.settings.mail, clock=clock)
    send(app, transport, clock)


def test_every_client_fixture_is_decided_correctly(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    for name in EXPECTED:
        box.deliver(fixture(name), FIRST_SECOND)
    run(app, box, transport, OPENING)

    with app.db.transaction() as session:
        outcomes = sorted(str(r.outcome) for r in session.exec(select(MailRequest)))
    assert outcomes == sorted(o for o, _, _ in EXPECTED.values() if o is not None)
    inbox = [raw for _, raw in box.inbox.values()]
    texts = [reply_text(m) for m in transport.sent]
    for name, (outcome, folder, words) in EXPECTED.items():
        raw = fixture(name)
        if outcome is None or folder is None:
            assert raw in inbox, f"{name} must stay in the inbox, untouched"
            continue
        assert raw in box.folders[folder], f"{name} not moved to {folder}"
        if words is not None:
            assert any(words in text for text in texts), f"{name}: no reply says {words!r}"
    # Automatic mail is never answered; nothing goes to a mailer daemon.
    recipients = [str(m["To"]) for m in transport.sent]
    assert "g.brzeczyszczykiewicz@example.com" not in recipients
    assert not any("mailer-daemon" in r.lower() for r in recipients)
    assert len(transport.sent) == 12


def test_replies_are_threaded_polish_and_marked_automatic(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    box.deliver(fixture("quoted_reply.eml"), FIRST_SECOND)
    run(app, box, transport, OPENING)
    [reply] = transport.sent
    assert reply["In-Reply-To"] == "<CAreply0001@mail.gmail.com>"
    assert "<empikgo.20261002100512.42@biblioteka.test> <CAreply0001@mail.gmail.com>" in str(
        reply["References"]
    )
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Subject"] == "Re: EMPIK GO"
    assert "multimedia@biblioteka.test" in str(reply["From"])
    text = reply_text(reply)
    assert "EGM-0000" in text
    assert "najpóźniej 30 listopada 2026" in text and "30 dni" in text and "3 miesiące" in text
    assert "{{" not in text and "{%" not in text
    assert "Dzielnicowa Wypożyczalnia Multimedialna\nal. Niepodległości 19/lok.C" in text
    assert "1 listopada 2026, godz. 00:00" in text


def test_nothing_is_decided_before_opening_and_the_queue_keeps_receipt_order(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    for name, minute in (("phone.eml", 30), ("gmail.eml", 10), ("thunderbird.eml", 20)):
        box.deliver(fixture(name), datetime(2026, 11, 1, 0, minute, tzinfo=WARSAW))
    run(app, box, transport, datetime(2026, 11, 2, 9, 59, tzinfo=WARSAW))
    assert transport.sent == []
    assert len(box.inbox) == 3
    run(app, box, transport, OPENING)
    assert [str(m["To"]) for m in transport.sent] == [
        "lukasz.zak@example.com",
        "piotr.lewandowski@example.com",
        "tomasz.kaminski@example.com",
    ]
    assert ["EGM-0000" in reply_text(m) for m in transport.sent] == [True, False, False]


def test_mail_from_before_midnight_is_rejected_with_when_to_write(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    box.deliver(fixture("gmail.eml"), datetime(2026, 10, 31, 23, 59, 59, tzinfo=WARSAW))
    run(app, box, transport, OPENING)
    [reply] = transport.sent
    text = reply_text(reply)
    assert "31 października 2026, godz. 23:59" in text
    assert "od\ngodziny 0:00 pierwszego dnia miesiąca" in text or "od godziny 0:00" in text.replace(
        "\n", " "
    )
    assert "w listopadzie 2026" in text.replace("\n", " ")


def test_the_same_message_fetched_twice_is_queued_once(app: App) -> None:
    box = FakeMailbox()
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)  # same Message-ID, second copy
    clock = lambda: FIRST_SECOND  # noqa: E731
    first = collect("multimedia", box, db=app.db, mail=app.settings.mail, clock=clock)
    box.uidvalidity = 2  # the server renumbered the mailbox: everything is fetched again
    second = collect("multimedia", box, db=app.db, mail=app.settings.mail, clock=clock)
    assert (first.queued, first.duplicates) == (1, 1)
    # After renumbering each message is recognised by its bytes: nothing new is queued.
    assert (second.queued, second.duplicates, second.renumbered) == (0, 0, 2)
    with app.db.transaction() as session:
        rows = session.exec(select(MailRequest).order_by(col(MailRequest.uid))).all()
    assert [(r.kind, r.status, r.uidvalidity, r.uid) for r in rows] == [
        ("request", "queued", 2, 1),
        ("duplicate", "decided", 2, 2),
    ]


def test_replies_per_sender_per_day_are_limited(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    for n in range(5):
        box.deliver(
            fixture("no_card.eml").replace(b"no-card-0001", f"no-card-{n}".encode()), FIRST_SECOND
        )
    run(app, box, transport, OPENING)
    assert len(transport.sent) == 3
    with app.db.transaction() as session:
        outcomes = [
            r.outcome for r in session.exec(select(MailRequest).order_by(col(MailRequest.uid)))
        ]
    assert outcomes == ["card-missing"] * 3 + ["rate-limited"] * 2


def test_a_message_that_keeps_failing_is_set_aside_and_the_queue_goes_on(app: App) -> None:
    box = FakeMailbox()
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)
    box.deliver(fixture("thunderbird.eml"), datetime(2026, 11, 1, 0, 5, tzinfo=WARSAW))

    def broken_render(name: str, **context: object) -> str:
        # Only the reply to the first message (received at 00:00:01) cannot be written.
        if "godz. 00:00" in str(context["received"]):
            raise RuntimeError("template exploded")
        return app.templates.render(name, **context)

    broken = MailDoor(app.db, app.library, app.debt_source, broken_render, app.settings.mail)
    clock = lambda: OPENING  # noqa: E731
    collect("multimedia", box, db=app.db, mail=app.settings.mail, clock=clock)
    decide_queue("multimedia", door=broken, clock=clock)
    with app.db.transaction() as session:
        rows = {r.sender: r for r in session.exec(select(MailRequest))}
        outbox = session.exec(select(OutboxMessage)).all()
    assert rows["lukasz.zak@example.com"].outcome == "failed"
    assert rows["lukasz.zak@example.com"].attempts == 3
    assert "template exploded" in str(rows["lukasz.zak@example.com"].note)
    # The failed decision took no code: the next reader got the first one.
    assert rows["piotr.lewandowski@example.com"].outcome == "issued"
    assert len(outbox) == 1 and "EGM-0000" in outbox[0].message


def test_temporary_send_failure_waits_its_turn_permanent_is_recorded(app: App) -> None:
    box = FakeMailbox()
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)
    box.deliver(fixture("thunderbird.eml"), datetime(2026, 11, 1, 0, 5, tzinfo=WARSAW))
    transport = FakeTransport(script=[SendResult.TEMPORARY, SendResult.PERMANENT])
    run(app, box, transport, OPENING)
    assert transport.sent == []

    def statuses() -> list[tuple[str, str, int]]:
        with app.db.transaction() as session:
            return [
                (o.recipient, o.status, o.attempts)
                for o in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
            ]

    # The deferred reply is not retried at once (nor does it hold up the next one)...
    assert statuses() == [
        ("lukasz.zak@example.com", "pending", 1),
        ("piotr.lewandowski@example.com", "failed", 1),
    ]
    send(app, transport, lambda: OPENING + timedelta(seconds=59))
    assert transport.sent == []
    # ... but a minute later, and the refused one is never tried again.
    send(app, transport, lambda: OPENING + timedelta(minutes=1))
    assert [str(m["To"]) for m in transport.sent] == ["lukasz.zak@example.com"]
    assert statuses() == [
        ("lukasz.zak@example.com", "sent", 1),
        ("piotr.lewandowski@example.com", "failed", 1),
    ]


def test_a_message_over_the_size_limit_is_answered_and_set_aside(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    big = fixture("gmail.eml").replace(
        b"nr karty 1000001", b"nr karty 1000001\r\n" + b"x" * 60_000, 1
    )
    box.deliver(big, FIRST_SECOND)
    small_limit = dataclasses.replace(app.settings.mail, max_message_bytes=20_000)
    clock = lambda: OPENING  # noqa: E731
    collect("multimedia", box, db=app.db, mail=small_limit, clock=clock)
    limited = MailDoor(app.db, app.library, app.debt_source, app.templates.render, small_limit)
    decide_queue("multimedia", door=limited, clock=clock)
    file_decided("multimedia", box, db=app.db, mail=small_limit, clock=clock)
    send(app, transport, clock)
    [reply] = transport.sent
    assert "jest zbyt duża (0,06 MB; przyjmujemy wiadomości do 0,02 MB)" in reply_text(reply)
    assert box.folders["Empik Go - dla obsługi"] == [big]
    with app.db.transaction() as session:
        assert session.exec(select(Issuance)).all() == []  # no code for an unread message


def test_service_switched_off_by_staff_gets_the_suspended_reply(app: App) -> None:
    switch_service(
        SwitchService(Platform.EMPIK_GO, False, "Brak środków"), db=app.db, now=FIRST_SECOND
    )
    box, transport = FakeMailbox(), FakeTransport()
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)
    run(app, box, transport, OPENING)
    [reply] = transport.sent
    assert "wstrzyma" in reply_text(reply)
    assert "EGM-" not in reply_text(reply)
    with app.db.transaction() as session:
        [request] = session.exec(select(MailRequest))
        assert request.outcome == "service-off"


def test_the_month_report_counts_mail_codes_refusals_and_waits(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)
    box.deliver(fixture("debt.eml"), datetime(2026, 11, 1, 8, 0, 1, tzinfo=WARSAW))
    run(app, box, transport, OPENING)
    report = month_report(ShowMonthReport(Month(2026, 11)), db=app.db, library=app.library)
    pool = next(p for p in report.pools if p.branch_id == "multimedia")
    assert (pool.loaded, pool.given[Channel.EMAIL], pool.refused) == (20, 1, {"debt": 1})
    # Received at 00:00:01 and 08:00:01 on 1 November, answered at 10:00 on the 2nd.
    assert pool.longest_wait == OPENING - FIRST_SECOND
    eight = datetime(2026, 11, 1, 8, 0, 1, tzinfo=WARSAW)
    assert pool.median_wait == ((OPENING - FIRST_SECOND) + (OPENING - eight)) / 2
    assert dict(pool.given_per_day)[date(2026, 11, 2)] == 1
    assert report.closed_at is None
