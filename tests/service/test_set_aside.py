"""Settling messages set aside for staff, through the dispatcher on a real database: a
code to a typed card (reply to the address on file, threaded), a refusal by the rules
left undone, a chosen refusal, a dismissal, a second settlement refused, and a failed
reply sent again once; the list with what each reader was already told, a refusal already
sent never sent again, automatic mail only closed, and the dashboard's count the list's."""

from __future__ import annotations

import json
from datetime import datetime
from email import message_from_string
from email.policy import default
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from empikgo_mailer.adapters.tables import AuditEvent, Issuance, MailRequest, OutboxMessage
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.statuses import ReplyStatus, RequestKind, RequestStatus
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.mail_status import ShowMailStatus
from empikgo_mailer.handlers.set_aside import (
    ResendReply,
    SetAsideAction,
    SettleSetAside,
    ShowHeld,
)
from tests.support.data import add_codes, add_patron

NOW = datetime(2026, 11, 2, 12, 30, tzinfo=ZoneInfo("Europe/Warsaw"))


def held(
    app: App,
    sender: str | None = "ktos@example.com",
    *,
    uid: int = 1,
    outcome: str = "card-missing",
    kind: RequestKind = RequestKind.REQUEST,
    cards: str | None = None,
    told: ReplyStatus | None = None,
) -> int:
    """A set-aside message; `told`: the daemon's reply to it (the reason's refusal)."""
    with app.db.transaction() as session:
        row = MailRequest(
            branch_id="w63", uidvalidity=1, uid=uid, fingerprint=f"sid:{uid}",
            message_id=f"<m{uid}@x>", references="<m0@x>", received_at=NOW, sender=sender,
            subject="EMPIK GO", kind=kind, status=RequestStatus.SET_ASIDE, outcome=outcome,
            words="proszę o kod", decided_at=NOW, created_at=NOW, cards=cards,
            cards_found=len((cards or "").split()),
        )  # fmt: skip
        session.add(row)
        session.flush()
        assert row.id is not None
        if told is not None:
            reply = OutboxMessage(
                request_id=row.id, branch_id="w63", sender="w63@x", recipient=sender or "",
                recipient_key=sender or "", message_id=f"<r{uid}@x>",
                message="Subject: x\n\nx", status=told, next_attempt_at=NOW,
                created_at=NOW, sent_at=NOW if told is ReplyStatus.SENT else None,
            )  # fmt: skip
            session.add(reply)
        return row.id


@pytest.fixture
def library(app: App) -> App:
    add_patron(app.db, "1000001", email="na-koncie@example.com")
    add_patron(app.db, "1000002", balance=120)  # a debt carried over
    add_codes(app.db, Platform.EMPIK_GO, Month(2026, 11), "w63", ["W63-A", "W63-B"])
    return app


def settle(app: App, request_id: int, action: SetAsideAction, **more: str) -> str:
    result = app.handle(
        SettleSetAside(request_id, "w63", action, login="anna", **more),
        now=NOW,
    )
    return result.message


def test_a_code_goes_to_the_address_on_file_threaded_to_the_message(library: App) -> None:
    request_id = held(library)
    message = settle(library, request_id, SetAsideAction.GIVE, card_number="1000-001")
    assert message.startswith("Wydano kod czytelnikowi z kartą 1000001")
    with library.db.transaction() as session:
        (reply,) = session.exec(select(OutboxMessage)).all()
        request = session.get(MailRequest, request_id)
        assert request is not None
        assert (request.status, request.outcome, request.handled_by) == (
            RequestStatus.DECIDED, "issued", "anna",
        )  # fmt: skip
        assert any(rule["rule"] == "Brak zadłużenia" for rule in json.loads(request.rules or ""))
        assert request.issuance_id is not None
        audit = session.exec(select(AuditEvent).where(AuditEvent.action == "set-aside-give"))
        assert [e.actor for e in audit] == ["staff:anna"]
    sent = message_from_string(reply.message, policy=default)
    assert reply.recipient == "na-koncie@example.com"
    assert sent["In-Reply-To"] == "<m1@x>"
    assert "<m0@x> <m1@x>" in " ".join(str(sent["References"]).split())
    assert "W63-" in sent.get_body().get_content()  # type: ignore[union-attr]
    # A second click, or another librarian: the same message is not settled twice.
    again = settle(library, request_id, SetAsideAction.GIVE, card_number="1000001")
    assert again == "Tę wiadomość już załatwiono (anna): wydano kod."


def test_a_refusal_by_the_rules_changes_nothing(library: App) -> None:
    request_id = held(library)
    message = settle(library, request_id, SetAsideAction.GIVE, card_number="1000002")
    assert message.startswith("Kodu nie wydano:")
    assert "Wiadomość nadal czeka" in message
    with library.db.transaction() as session:
        request = session.get(MailRequest, request_id)
        assert request is not None and request.status is RequestStatus.SET_ASIDE
        assert session.exec(select(Issuance)).all() == []
        assert session.exec(select(OutboxMessage)).all() == []


def test_a_chosen_refusal_goes_to_the_sender_and_dismissal_sends_nothing(library: App) -> None:
    first, second = held(library), held_second(library)
    assert settle(library, first, SetAsideAction.REFUSE, refusal="card-not-found") == (
        "Wysłano odmowę „nieznana karta” na ktos@example.com."
    )
    assert settle(library, second, SetAsideAction.DISMISS) == "Zamknięto bez odpowiedzi."
    with library.db.transaction() as session:
        (reply,) = session.exec(select(OutboxMessage)).all()
        assert reply.recipient == "ktos@example.com"
        closed = session.get(MailRequest, second)
        assert closed is not None and closed.outcome == "dismissed"
    with pytest.raises(CommandRejected, match="Wybierz odmowę z listy"):
        settle(library, held_second(library, uid=3), SetAsideAction.REFUSE, refusal="issued")


def held_second(app: App, uid: int = 2) -> int:
    with app.db.transaction() as session:
        row = MailRequest(
            branch_id="w63", uidvalidity=1, uid=uid, fingerprint=f"raw:{uid}",
            received_at=NOW, sender=None, subject="EMPIK GO", kind=RequestKind.AUTOMATIC,
            status=RequestStatus.SET_ASIDE, outcome="automatic", decided_at=NOW, created_at=NOW,
        )  # fmt: skip
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_another_branch_cannot_settle_it(library: App) -> None:
    request_id = held(library)
    with pytest.raises(CommandRejected, match="Nie ma takiej wiadomości"):
        library.handle(
            SettleSetAside(request_id, "multimedia", SetAsideAction.DISMISS, login="ola"), now=NOW
        )


def test_a_failed_reply_is_sent_again_once(library: App) -> None:
    with library.db.transaction() as session:
        reply = OutboxMessage(
            branch_id="w63", sender="w63@x", recipient="r@example.com", recipient_key="r@example.com",
            message_id="<r@x>", message="Subject: x\n\nx", status=ReplyStatus.FAILED, attempts=5,
            next_attempt_at=NOW, last_error="550 mailbox full", created_at=NOW,
        )  # fmt: skip
        session.add(reply)
        session.flush()
        reply_id = reply.id
    assert reply_id is not None
    first = library.handle(ResendReply(reply_id, "w63", "anna"), now=NOW)
    assert first.done
    again = library.handle(ResendReply(reply_id, "w63", "anna"), now=NOW)
    assert not again.done
    with library.db.transaction() as session:
        back = session.get(OutboxMessage, reply_id)
        assert back is not None and back.status is ReplyStatus.PENDING and back.attempts == 0


def test_the_list_shows_what_each_reader_was_told_and_offers_what_the_reason_calls_for(
    library: App,
) -> None:
    told = held(library, uid=1, told=ReplyStatus.SENT)
    several = held(library, uid=2, cards="1000001 1000002", told=ReplyStatus.PENDING)
    too_large = held(library, uid=3, outcome="too-large")
    too_large_told = held(library, uid=4, outcome="too-large", told=ReplyStatus.SENT)
    automatic = held(library, uid=5, outcome="automatic", kind=RequestKind.AUTOMATIC)
    listed = {m.request.id: m for m in library.handle(ShowHeld("w63"))}
    assert list(listed) == [told, several, too_large, too_large_told, automatic]

    first = listed[told]
    assert [(r.recipient, r.status) for r in first.replies] == [
        ("ktos@example.com", ReplyStatus.SENT)
    ]
    assert first.choices.default == "give"
    assert "card-missing" not in first.choices.refusals  # already told: never twice
    assert first.choices.default_refusal == "card-not-found"
    assert listed[several].choices.cards == ("1000001", "1000002")
    assert "card-missing" not in listed[several].choices.refusals  # a pending reply counts
    assert (listed[too_large].choices.default, listed[too_large].choices.default_refusal) == (
        "refuse", "too-large",
    )  # fmt: skip
    assert listed[too_large_told].choices.default == "dismiss"
    assert "too-large" not in listed[too_large_told].choices.refusals
    machine = listed[automatic].choices
    assert (machine.default, machine.can_give, machine.refusals) == ("dismiss", False, ())
    assert [listed[i].choices.default for i in (told, several)] == ["give", "give"]


def test_a_refusal_already_sent_is_refused_and_automatic_mail_is_only_closed(
    library: App,
) -> None:
    told = held(library, uid=1, told=ReplyStatus.SENT)
    with pytest.raises(CommandRejected, match="już dostał odpowiedź „brak numeru karty”"):
        settle(library, told, SetAsideAction.REFUSE, refusal="card-missing")
    automatic = held(library, uid=2, outcome="automatic", kind=RequestKind.AUTOMATIC)
    with pytest.raises(CommandRejected, match="Na pocztę automatyczną się nie odpowiada"):
        settle(library, automatic, SetAsideAction.REFUSE, refusal="card-not-found")
    with pytest.raises(CommandRejected, match="Na pocztę automatyczną się nie odpowiada"):
        settle(library, automatic, SetAsideAction.GIVE, card_number="1000001")
    with library.db.transaction() as session:
        assert len(session.exec(select(OutboxMessage)).all()) == 1  # the daemon's only
        for request_id in (told, automatic):
            request = session.get(MailRequest, request_id)
            assert request is not None and request.status is RequestStatus.SET_ASIDE
    assert settle(library, automatic, SetAsideAction.DISMISS) == "Zamknięto bez odpowiedzi."
    # Another refusal, one the reader was not sent, still goes.
    assert settle(library, told, SetAsideAction.REFUSE, refusal="card-not-found").startswith(
        "Wysłano odmowę „nieznana karta”"
    )
    again = settle(library, told, SetAsideAction.REFUSE, refusal="name-mismatch")
    assert again == "Tę wiadomość już załatwiono (anna): nieznana karta."


def test_a_refused_code_names_the_reason_in_one_sentence(library: App) -> None:
    message = settle(library, held(library), SetAsideAction.GIVE, card_number="1000009")
    assert message == (
        "Kodu nie wydano: Nie ma czytelnika z takim numerem karty. Wiadomość nadal czeka; "
        "możesz wysłać wybraną odmowę."
    )
    assert ".." not in message


def test_the_dashboard_counts_every_message_on_the_list(library: App) -> None:
    for uid in (1, 2, 3):
        held(library, uid=uid)
    with library.db.transaction() as session:
        filed = session.get(MailRequest, held(library, uid=4))
        assert filed is not None
        filed.filed_at = NOW  # moved to the staff folder: still on the list
        session.add(filed)
    (w63,) = [q for q in library.handle(ShowMailStatus(), now=NOW).queues if q.branch_id == "w63"]
    assert w63.set_aside == len(library.handle(ShowHeld("w63"))) == 4
    assert w63.set_aside_unfiled == 3
