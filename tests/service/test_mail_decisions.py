"""Service level: each fixture from a real mail client through queue, decision, filing and
outbox, with an in-memory mailbox and transport (the real servers are tested elsewhere)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from imapclient.exceptions import IMAPClientError
from sqlmodel import col, select

from empikgo_mailer.adapters.imap_mailbox import FetchedMessage
from empikgo_mailer.adapters.outbox import Links, Outbox
from empikgo_mailer.adapters.smtp_sender import SendResult
from empikgo_mailer.adapters.tables import Issuance, MailRequest, OutboxMessage
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.domain.mail_requests import MessageReading
from empikgo_mailer.domain.mail_requests import read_message as read_message_really
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers import mailbox as mailbox_handlers
from empikgo_mailer.handlers.filing import FileDecided
from empikgo_mailer.handlers.mail import DecideQueue
from empikgo_mailer.handlers.mail_send import new_owner, send_outbox
from empikgo_mailer.handlers.mail_status import queue_status
from empikgo_mailer.handlers.patrons import ImportPatrons, import_patrons
from empikgo_mailer.handlers.report import ShowMonthReport, month_report
from empikgo_mailer.handlers.service import SwitchService, switch_service
from tests.support.config import settings_for
from tests.support.data import add_codes
from tests.support.mail import FakeMailbox, FakeTransport, collect, fixture, reply_text

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
    # A sender not on file for any reader learns nothing about the card (RULES section 9).
    "wrong_sender.eml": (
        "stranger",
        "Empik Go - nieznani nadawcy",
        "nie udało nam się potwierdzić danych czytelnika",
    ),
    # A reader on file writing about another reader's card (RULES section 1).
    "other_readers_address.eml": (
        "sender-mismatch",
        "Empik Go - odmowy",
        "tylko na adres e-mail zapisany",
    ),
    "debt.eml": ("debt", "Empik Go - odmowy", "jest zaległość (1,20 zł)"),
}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """On SQLite and on PostgreSQL."""
    application = bootstrap(settings_for(tmp_path, database_url))
    import_patrons(ImportPatrons(PATRONS), uow=application.uow(), now=FIRST_SECOND)
    codes = [f"EGM-{n:04d}" for n in range(20)]
    add_codes(application.db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", codes)
    yield application
    application.db.dispose()


def send(app: App, transport: FakeTransport, clock: Callable[[], datetime]) -> None:
    with Outbox(app.db, new_owner()) as outbox:
        asyncio.run(
            send_outbox(outbox=outbox, links=Links(app.db), transport=transport, clock=clock)
        )


def run(app: App, box: FakeMailbox, transport: FakeTransport, now: datetime) -> None:
    clock = lambda: now  # noqa: E731
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=clock)
    app.handle(DecideQueue("multimedia"), clock=clock)
    app.handle(FileDecided("multimedia"), mailbox=box, clock=clock)
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
    assert len(transport.sent) == 13
    # Replies carrying a code go out first, the stranger's neutral reply last (RULES 8, 9).
    carries_code = ["oto Twój kod" in text for text in texts]
    assert carries_code == sorted(carries_code, reverse=True)
    assert recipients[-1] == "someone.else@example.net"


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
    first = collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=clock)
    box.uidvalidity = 2  # the server renumbered the mailbox: everything is fetched again
    second = collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=clock)
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
    # The rest are repeats: filed, never on the librarians' list (RULES section 9).
    assert outcomes == ["card-missing"] * 3 + ["repeat"] * 2


def test_a_message_that_keeps_failing_is_set_aside_and_the_queue_goes_on(app: App) -> None:
    box = FakeMailbox()
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)
    box.deliver(fixture("thunderbird.eml"), datetime(2026, 11, 1, 0, 5, tzinfo=WARSAW))

    def broken_render(name: str, **context: object) -> str:
        # Only the reply to the first message (received at 00:00:01) cannot be written.
        if "godz. 00:00" in str(context["received"]):
            raise RuntimeError("template exploded")
        return app.templates.render(name, **context)

    clock = lambda: OPENING  # noqa: E731
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=clock)
    app.handle(DecideQueue("multimedia"), clock=clock, render=broken_render)
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
    collect("multimedia", box, uow=app.uow(), mail=small_limit, clock=clock)
    app.handle(DecideQueue("multimedia"), clock=clock, mail=small_limit)
    app.handle(FileDecided("multimedia"), mailbox=box, clock=clock, mail=small_limit)
    send(app, transport, clock)
    [reply] = transport.sent
    assert "jest zbyt duża (0,06 MB; przyjmujemy wiadomości do 0,02 MB)" in reply_text(reply)
    assert box.folders["Empik Go - dla obsługi"] == [big]
    with app.db.transaction() as session:
        assert session.exec(select(Issuance)).all() == []  # no code for an unread message


def test_service_switched_off_by_staff_gets_the_suspended_reply(app: App) -> None:
    switch_service(
        SwitchService(Platform.EMPIK_GO, False, "Brak środków"), uow=app.uow(), now=FIRST_SECOND
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
    report = month_report(
        ShowMonthReport(Month(2026, 11)), uow=app.uow(), library=app.library, now=OPENING
    )
    pool = next(p for p in report.pools if p.branch_id == "multimedia")
    assert (pool.loaded, pool.given[Channel.EMAIL], pool.refused) == (20, 1, {"debt": 1})
    # Received at 00:00:01 and 08:00:01 on 1 November, answered at 10:00 on the 2nd.
    assert pool.longest_wait == OPENING - FIRST_SECOND
    eight = datetime(2026, 11, 1, 8, 0, 1, tzinfo=WARSAW)
    assert pool.median_wait == ((OPENING - FIRST_SECOND) + (OPENING - eight)) / 2
    assert pool.given_per_day == ((date(2026, 11, 1), 0), (date(2026, 11, 2), 1))  # so far
    assert report.closed_at is None


def rows_by_uid(app: App) -> dict[int, MailRequest]:
    with app.db.transaction() as session:
        return {r.uid: r for r in session.exec(select(MailRequest))}


def test_a_message_that_cannot_be_read_is_recorded_and_set_aside(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)
    box.deliver(fixture("phone.eml"), FIRST_SECOND)
    real = read_message_really

    def read_message(raw: bytes, **kwargs: frozenset[str]) -> MessageReading:
        if b"CAMphone9999" in raw:
            raise RuntimeError("reader exploded")
        return real(raw, **kwargs)

    monkeypatch.setattr(mailbox_handlers, "read_message", read_message)
    run(app, box, transport, OPENING)
    rows = rows_by_uid(app)
    assert (rows[2].kind, rows[2].status, rows[2].outcome) == ("unreadable", "set-aside", "failed")
    assert rows[2].note == "błąd odczytu wiadomości (RuntimeError)"
    assert rows[1].outcome == "issued"
    assert box.folders["Empik Go - dla obsługi"] == [fixture("phone.eml")]
    assert [str(m["To"]) for m in transport.sent] == ["lukasz.zak@example.com"]


def test_a_row_the_database_refuses_does_not_stop_the_others(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = FakeMailbox()
    for name in ("gmail.eml", "phone.eml", "thunderbird.eml"):
        box.deliver(fixture(name), FIRST_SECOND)
    real = mailbox_handlers.classify

    def classify(fetched: FetchedMessage, **kwargs: Any) -> MailRequest | None:
        entry = real(fetched, **kwargs)
        if entry is not None and fetched.uid == 2:
            entry.subject = "EMPIK GO \udc80"  # a value no database driver can encode
        return entry

    monkeypatch.setattr(mailbox_handlers, "classify", classify)
    report = collect(
        "multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: OPENING
    )
    assert (report.queued, report.unreadable) == (2, 1)
    rows = rows_by_uid(app)
    assert [rows[uid].status for uid in (1, 2, 3)] == ["queued", "set-aside", "queued"]
    assert "baza danych nie przyjęła wiadomości" in str(rows[2].note)
    # The checkpoint covers all three: nothing is fetched again, nothing is lost.
    again = collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: OPENING)
    assert again.fetched == 0


class StubbornMailbox(FakeMailbox):
    """The server refuses to move one message (a NO answer), and moves the others."""

    def move(self, uids: Sequence[int], folder: str) -> None:
        if 2 in uids:
            raise IMAPClientError("MOVE failed: [SERVERBUG] internal error")
        super().move(uids, folder)


def test_a_message_the_server_will_not_move_is_noted_and_the_others_are_filed(app: App) -> None:
    box, transport = StubbornMailbox(), FakeTransport()
    for name in ("gmail.eml", "phone.eml", "thunderbird.eml"):
        box.deliver(fixture(name), FIRST_SECOND)
    run(app, box, transport, OPENING)
    assert sorted(box.inbox) == [2]
    assert len(box.folders["Empik Go - wydane"]) == 2
    rows = rows_by_uid(app)
    assert rows[2].filed_at is None and "SERVERBUG" in str(rows[2].filing_error)
    assert len(transport.sent) == 3  # filing has nothing to do with answering
    [queue] = [
        q
        for q in queue_status(uow=app.uow(), library=app.library, now=OPENING)
        if q.branch_id == "multimedia"
    ]
    assert queue.filing_errors == [rows[2].filing_error]


def test_an_unreachable_smtp_server_ends_the_send_phase_until_the_breaker_allows(
    app: App,
) -> None:
    box = FakeMailbox()
    for name in ("gmail.eml", "phone.eml", "thunderbird.eml"):
        box.deliver(fixture(name), FIRST_SECOND)
    transport = FakeTransport(script=[SendResult.UNREACHABLE])
    run(app, box, transport, OPENING)
    assert (transport.tries, transport.sent) == (1, [])  # one try, not one per reply
    state = Links(app.db).get("smtp")
    assert state is not None and state.retry_at == OPENING + timedelta(minutes=1)
    with app.db.transaction() as session:
        outbox = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    assert [(o.status, o.attempts, o.lease_owner) for o in outbox] == [("pending", 0, None)] * 3
    assert outbox[0].last_error == "unreachable scripted"
    transport.down = True
    send(app, transport, lambda: OPENING + timedelta(seconds=59))
    assert transport.tries == 1  # the breaker is open: not even tried
    assert transport.probes == 1  # only asked whether it answers: it does not
    transport.down = False
    send(app, transport, lambda: OPENING + timedelta(minutes=1))
    assert (transport.tries, len(transport.sent)) == (4, 3)
    state = Links(app.db).get("smtp")
    assert state is not None and (state.ok, state.failures, state.retry_at) == (True, 0, None)


def test_a_server_back_before_the_breaker_allows_gets_the_replies_at_once(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    box = FakeMailbox()
    for name in ("gmail.eml", "phone.eml"):
        box.deliver(fixture(name), FIRST_SECOND)
    transport = FakeTransport(down=True)
    run(app, box, transport, OPENING)
    send(app, transport, lambda: OPENING + timedelta(seconds=20))
    assert (transport.tries, transport.probes, transport.sent) == (1, 1, [])
    transport.down = False
    with caplog.at_level(logging.INFO, logger="empikgo_mailer.handlers.mail_send"):
        send(app, transport, lambda: OPENING + timedelta(seconds=30))
    assert (transport.probes, len(transport.sent)) == (2, 2)  # in the pass it came back
    assert "SMTP link back after 30 s" in caplog.messages
    state = Links(app.db).get("smtp")
    assert state is not None and (state.ok, state.failures, state.retry_at) == (True, 0, None)


def test_a_second_unreachable_try_waits_longer(app: App) -> None:
    box = FakeMailbox()
    box.deliver(fixture("gmail.eml"), FIRST_SECOND)
    transport = FakeTransport(script=[SendResult.UNREACHABLE, SendResult.UNREACHABLE])
    run(app, box, transport, OPENING)
    send(app, transport, lambda: OPENING + timedelta(minutes=1))
    state = Links(app.db).get("smtp")
    assert state is not None and state.failures == 2
    assert state.retry_at == OPENING + timedelta(minutes=6)


def test_mail_from_a_branch_mailbox_is_never_answered(app: App) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    box.deliver(
        fixture("gmail.eml").replace(b"<lukasz.zak@example.com>", b"<w63@biblioteka.test>"),
        FIRST_SECOND,
    )
    clock = lambda: OPENING  # noqa: E731
    own = frozenset({"multimedia@biblioteka.test", "w63@biblioteka.test"})
    collect(
        "multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=clock, own_addresses=own
    )
    app.handle(DecideQueue("multimedia"), clock=clock)
    send(app, transport, clock)
    [row] = rows_by_uid(app).values()
    assert (row.kind, row.outcome) == ("automatic", "automatic")
    assert transport.sent == []


def test_one_message_id_from_two_senders_is_two_requests_and_a_resent_copy_is_one(
    app: App,
) -> None:
    box, transport = FakeMailbox(), FakeTransport()
    gmail = fixture("gmail.eml")
    box.deliver(gmail, FIRST_SECOND)
    # Another reader's client reused the Message-ID: another request all the same.
    box.deliver(
        gmail.replace(b"lukasz.zak@example.com", b"kasia.wojcik@example.com")
        .replace(b"=C5=81ukasz =C5=BBak", b"Katarzyna W=C3=B3jcik")
        .replace(b"nr karty 1000001", b"nr karty 1000008"),
        FIRST_SECOND,
    )
    box.deliver(gmail, FIRST_SECOND)  # the first reader's client sent it again
    run(app, box, transport, OPENING)
    rows = rows_by_uid(app)
    assert [(rows[u].kind, rows[u].outcome) for u in (1, 2, 3)] == [
        ("request", "issued"),
        ("request", "issued"),
        ("duplicate", "duplicate"),
    ]
    assert sorted(str(m["To"]) for m in transport.sent) == [
        "kasia.wojcik@example.com",
        "lukasz.zak@example.com",
    ]
    assert box.inbox == {} and len(box.folders["Empik Go - wydane"]) == 3


def test_a_session_the_server_closes_half_way_is_opened_again_not_given_up(app: App) -> None:
    box = FakeMailbox()
    for name in ("gmail.eml", "phone.eml", "thunderbird.eml"):
        box.deliver(fixture(name), FIRST_SECOND)
    # "421 too many messages in this session" after the first reply, as servers do.
    transport = FakeTransport(script=[SendResult.SENT, SendResult.UNREACHABLE])
    run(app, box, transport, OPENING)
    assert (transport.tries, len(transport.sent)) == (4, 3)
    state = Links(app.db).get("smtp")
    assert state is not None and state.ok and state.retry_at is None
