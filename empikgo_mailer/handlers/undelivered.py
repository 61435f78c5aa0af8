"""Codes that never reached their readers (RULES section 8): staff send one again, to the
address now on the reader's account, or return it to the pool, which also frees the
reader's one code of the month. Each action is taken once (the first click wins) and is
in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import MailSettings
from empikgo_mailer.domain.addresses import same_address
from empikgo_mailer.domain.card_number import shown_card
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.polish import month_name
from empikgo_mailer.domain.replies import Render, ReplyFacts, reply_context
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.mail import queue_reply
from empikgo_mailer.handlers.set_aside import Settlement


@dataclass(frozen=True)
class SendCodeAgain(Command[Settlement]):
    """The undelivered code's reply, written again to the reader's address on file now."""

    issuance_id: int
    branch_id: str
    login: str = "system"


@dataclass(frozen=True)
class ReturnCode(Command[Settlement]):
    """The undelivered code back to its pool; the reader may get a code this month again."""

    issuance_id: int
    branch_id: str
    login: str = "system"


_GONE = Settlement(False, "Tego kodu nie ma już na liście kodów, które nie dotarły.")


def send_code_again(
    command: SendCodeAgain,
    *,
    uow: UnitOfWork,
    library: Library,
    render: Render,
    mail: MailSettings,
    now: datetime,
) -> Settlement:
    branch = library.branch(command.branch_id)
    with uow:
        store, queue = uow.store, uow.queue
        found = uow.queue.undelivered(command.issuance_id, branch.id)
        if found is None:
            return _GONE
        issuance, patron, request = found
        if issuance.month != str(library.calendar.month_of(now)):
            return Settlement(
                False,
                f"Kod z miesiąca {month_name(Month.parse(issuance.month))} już wygasł: "
                "nie można go wysłać ponownie.",
            )
        sent_to = queue.last_recipient_of(issuance.id or 0)
        if not patron.email:
            return Settlement(
                False,
                f"Czytelnik z kartą {shown_card(patron.card_number)} nie ma adresu e-mail w "
                "koncie. Popraw adres w systemie bibliotecznym i zaimportuj czytelników albo "
                "zwróć kod do puli.",
            )
        if sent_to is not None and same_address(sent_to, patron.email):
            return Settlement(
                False,
                f"W koncie czytelnika wciąż jest adres {patron.email}, który serwer odrzucił. "
                "Popraw adres w systemie bibliotecznym i zaimportuj czytelników albo zwróć "
                "kod do puli.",
            )
        pair = store.issuance(issuance.id or 0)
        assert pair is not None
        facts = ReplyFacts(
            branch_name=branch.name,
            branch_address=branch.address,
            received=library.calendar.local(request.received_at if request else issuance.issued_at),
            month=Month.parse(issuance.month),
            card=patron.card_number,
            code=pair[1].value,
            activation_url=library.activation_url(Platform.EMPIK_GO),
            limit_bytes=mail.max_message_bytes,
        )
        text = render("mail/issued.txt.j2", **reply_context(facts))
        if request is None:
            return Settlement(False, "Ten kod nie był wydany e-mailem: wydaj go w placówce.")
        queue_reply(
            queue, branch=branch, request=request, to=patron.email, text=text, now=now,
            issuance_id=issuance.id,
        )  # fmt: skip
        issuance.undelivered_at = issuance.undelivered_reason = None
        uow.add(issuance)
        store.audit(
            at=now, actor=f"staff:{command.login}", action="code-send-again", outcome="done",
            card_number=shown_card(patron.card_number), issuance=issuance.id, branch=branch.id,
        )  # fmt: skip
        return Settlement(True, f"Kod wysłany ponownie na {patron.email}.")


def return_code(
    command: ReturnCode, *, uow: UnitOfWork, library: Library, now: datetime
) -> Settlement:
    branch = library.branch(command.branch_id)
    with uow:
        store = uow.store
        found = uow.queue.undelivered(command.issuance_id, branch.id)
        if found is None:
            return _GONE
        issuance, patron, request = found
        pair = store.issuance(issuance.id or 0)
        assert pair is not None
        month = issuance.month
        to_pool = month == str(library.calendar.month_of(now))
        store.return_code(issuance, pair[1], to_pool=to_pool)
        if request is not None:
            request.note = "; ".join(
                filter(None, [request.note, "kod nie dotarł i wrócił do puli"])
            )
            uow.add(request)
        store.audit(
            at=now, actor=f"staff:{command.login}", action="code-return", outcome="done",
            card_number=shown_card(patron.card_number), month=month, branch=branch.id,
            reason=issuance.undelivered_reason,
        )  # fmt: skip
        card = shown_card(patron.card_number)
        if to_pool:
            return Settlement(
                True,
                f"Kod wrócił do puli. Czytelnik z kartą {card} może w tym miesiącu "
                "dostać kod ponownie.",
            )
        return Settlement(
            True,
            f"Kod z minionego miesiąca wygasł; czytelnik z kartą {card} nie ma za niego blokady.",
        )
