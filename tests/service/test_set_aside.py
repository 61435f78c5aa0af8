"""Settling messages set aside for staff, through the dispatcher on a real database: a
code to a typed card (reply to the address on file, threaded), a refusal by the rules
left undone, a chosen refusal, a dismissal, a second settlement refused, and a failed
reply sent again once."""

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
from empikgo_mailer.handlers.set_aside import ResendReply, SetAsideAction, SettleSetAside
from tests.support.data import add_codes, add_patron

NOW = datetime(2026, 11, 2, 12, 30, tzinfo=ZoneInfo("Europe/Warsaw"))


def held(app: App, sender: str | None = "ktos@example.com") -> int:
    with app.db.transaction() as session:
        row = MailRequest(
            branch_id="w63", uidvalidity=1, uid=1, fingerprint="sid:x", message_id="<m1@x>",
            references="<m0@x>", received_at=NOW, sender=sender, subject="EMPIK GO",
            kind=RequestKind.REQUEST, status=RequestStatus.SET_ASIDE, outcome="card-missing",
            words="proszę o kod", decided_at=NOW, created_at=NOW,
        )  # fmt: skip
        session.add(row)
        session.flush()
        assert row.id is not None
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
