"""Settling a message set aside for staff, and sending a failed reply again.

Mailman's held messages are the model: a librarian gives a code to the card they read in
the message, sends a refusal they choose, or closes it without a reply. A message is
settled once: the first statement of each action takes it off the list only while it is
still there, so two librarians clicking at once (or one clicking twice) make one decision.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from empikgo_mailer.adapters.mail_queue import MailQueue, ReplySummary
from empikgo_mailer.adapters.outbox import Links
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import BranchSettings, MailSettings
from empikgo_mailer.domain.card_number import CardNumber, InvalidCardNumber, shown_card
from empikgo_mailer.domain.explanations import OUTCOME_LABELS, explain_refusal, rule_rows
from empikgo_mailer.domain.held_messages import HeldChoices, HeldFacts, held_choices
from empikgo_mailer.domain.mail_outcomes import CHOSEN_REFUSALS, TEMPLATE_OF, MailOutcome
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.replies import Render, ReplyFacts, reply_context
from empikgo_mailer.domain.statuses import RequestStatus
from empikgo_mailer.handlers.codes import Decision, GiveCode, decide
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.debt import DebtSource
from empikgo_mailer.handlers.errors import CommandRefused, CommandRejected
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.mail import queue_reply
from empikgo_mailer.handlers.mail_send import SMTP_LINK


class SetAsideAction(StrEnum):
    GIVE = "give"  # a code to the card the librarian typed, by the rules of every door
    REFUSE = "refuse"  # a refusal the librarian chose
    DISMISS = "dismiss"  # closed without a reply


@dataclass(frozen=True)
class SettleSetAside(Command["Settlement"]):
    request_id: int
    branch_id: str  # the branch the librarian acts for: another branch's message is unknown
    action: SetAsideAction
    card_number: str | None = None  # GIVE
    refusal: str | None = None  # REFUSE: one of CHOSEN_REFUSALS
    login: str = "system"


@dataclass(frozen=True)
class ShowHeld(Command["list[HeldMessage]"]):
    """The branch's set-aside list, each message with the replies it already got."""

    branch_id: str


@dataclass(frozen=True)
class HeldMessage:
    request: MailRequest
    replies: list[ReplySummary]  # what the reader was already told, the oldest first
    choices: HeldChoices


SHOWN = 500  # messages listed at once; a longer list is counted on the dashboard


@dataclass(frozen=True)
class ResendReply(Command["Settlement"]):
    reply_id: int
    branch_id: str
    login: str = "system"


@dataclass(frozen=True)
class Settlement:
    done: bool
    message: str  # what happened, in Polish, for the librarian


class _Refused(CommandRefused):
    """The rules refused the code: everything the action wrote is rolled back."""

    def __init__(self, decision: Decision) -> None:
        super().__init__("reguły nie pozwalają wydać kodu")
        self.decision = decision


def show_held(query: ShowHeld, *, uow: UnitOfWork) -> list[HeldMessage]:
    with uow:
        requests = uow.queue.set_aside(query.branch_id, SHOWN)
        replies = uow.queue.reply_summaries([r.id for r in requests if r.id is not None])
    return [
        HeldMessage(r, replies[r.id], held_choices(held_facts(r, replies[r.id])))
        for r in requests
        if r.id is not None
    ]


class AnyReply(Protocol):
    """A reply as the list reads it (ReplySummary) or as the request page has it (a row)."""

    @property
    def issuance_id(self) -> int | None: ...


def held_facts(request: MailRequest, replies: Sequence[AnyReply]) -> HeldFacts:
    """A set-aside message's facts; any reply it has is the daemon's answer to the reason it
    was set aside for (a librarian's action takes it off the list)."""
    refused = any(r.issuance_id is None for r in replies)
    return HeldFacts(
        outcome=request.outcome,
        kind=str(request.kind),
        sender=request.sender,
        card=request.card_number,
        cards=tuple((request.cards or "").split()),
        told=request.outcome if refused and request.outcome in TEMPLATE_OF else None,
    )


def _allowed(command: SettleSetAside, facts: HeldFacts) -> None:
    """The page offers only what is allowed; a form sent by hand is held to the same."""
    if command.action is SetAsideAction.DISMISS:
        return
    if not held_choices(facts).can_give:
        raise CommandRejected("Na pocztę automatyczną się nie odpowiada: wybierz „Zamknij”.")
    if command.action is SetAsideAction.REFUSE and command.refusal == facts.told:
        label = OUTCOME_LABELS.get(facts.told or "", "")
        raise CommandRejected(
            f"Czytelnik już dostał odpowiedź „{label}”; drugiej takiej samej nie wysyłamy."
        )


def _already(request: MailRequest | None) -> Settlement:
    if request is None:
        raise CommandRejected("Nie ma takiej wiadomości.")
    if request.status is RequestStatus.QUEUED:
        return Settlement(False, "Ta prośba czeka w kolejce; rozstrzygnie ją demon.")
    who = f" ({request.handled_by})" if request.handled_by else ""
    outcome = OUTCOME_LABELS.get(request.outcome or "", request.outcome or "")
    return Settlement(False, f"Tę wiadomość już załatwiono{who}: {outcome}.")


def settle_set_aside(
    command: SettleSetAside,
    *,
    uow: UnitOfWork,
    library: Library,
    debt_source: DebtSource,
    render: Render,
    mail: MailSettings,
    now: datetime,
) -> Settlement:
    branch = library.branch(command.branch_id)
    card = _typed_card(command)
    outcome = _outcome(command)
    actor = f"staff:{command.login}"
    try:
        with uow:
            queue, store = uow.queue, uow.store
            request = queue.request(command.request_id)
            if request is None or request.branch_id != branch.id:
                raise CommandRejected("Nie ma takiej wiadomości.")
            if request.status is not RequestStatus.SET_ASIDE:
                return _already(request)
            assert request.id is not None
            replies = queue.reply_summaries([request.id])[request.id]
            _allowed(command, held_facts(request, replies))
            if not queue.settle(command.request_id, outcome, command.login, now):
                return _already(queue.request(command.request_id))
            uow.refresh(request)
            facts = ReplyFacts(
                branch_name=branch.name,
                branch_address=branch.address,
                received=library.calendar.local(request.received_at),
                month=library.calendar.month_of(now),
                card=card or request.card_number,
                cards=tuple((request.cards or "").split()),
                size_bytes=request.size,
                limit_bytes=mail.max_message_bytes,
                activation_url=library.activation_url(Platform.EMPIK_GO),
            )
            message = "Zamknięto bez odpowiedzi."
            if command.action is SetAsideAction.GIVE:
                assert card is not None
                message = _give(
                    store, queue, request, card, facts,
                    library=library, debt_source=debt_source, render=render, actor=actor,
                    branch=branch, now=now,
                )  # fmt: skip
            elif command.action is SetAsideAction.REFUSE:
                if request.sender is None:
                    raise CommandRejected(
                        "Ta wiadomość nie ma poprawnego adresu nadawcy: nie ma dokąd wysłać "
                        "odpowiedzi. Wybierz „Zamknij bez odpowiedzi”."
                    )
                text = render(f"mail/{TEMPLATE_OF[outcome]}.txt.j2", **reply_context(facts))
                queue_reply(
                    queue, branch=branch, request=request, to=request.sender, text=text, now=now
                )
                message = f"Wysłano odmowę „{OUTCOME_LABELS[outcome]}” na {request.sender}."
            store.audit(
                at=now, actor=actor, action=f"set-aside-{command.action.value}",
                outcome=outcome, card_number=shown_card(card) if card else None,
                request=request.id, branch=branch.id,
            )  # fmt: skip
            return Settlement(True, message)
    except _Refused as refused:
        refusal = refused.decision.refusal
        assert refusal is not None
        assert refusal.reason is not None
        with uow:
            uow.store.audit(
                at=now, actor=actor, action="set-aside-give", outcome=str(refusal.reason),
                card_number=shown_card(card or ""), request=command.request_id,
                branch=branch.id,
            )  # fmt: skip
        why = explain_refusal(refusal.reason, dict(refusal.details))
        return Settlement(
            False,
            # `why` is a sentence with its own full stop.
            f"Kodu nie wydano: {why} Wiadomość nadal czeka; możesz wysłać wybraną odmowę.",
        )


def _typed_card(command: SettleSetAside) -> str | None:
    if command.action is not SetAsideAction.GIVE:
        return None
    try:
        return str(CardNumber.parse(command.card_number or ""))
    except InvalidCardNumber as exc:
        raise CommandRejected(f"Numer karty: {exc}") from None


def _outcome(command: SettleSetAside) -> str:
    match command.action:
        case SetAsideAction.GIVE:
            return MailOutcome.ISSUED.value
        case SetAsideAction.DISMISS:
            return MailOutcome.DISMISSED.value
        case SetAsideAction.REFUSE:
            if command.refusal not in CHOSEN_REFUSALS:
                raise CommandRejected("Wybierz odmowę z listy.")
            return command.refusal


def _give(
    store: Store,
    queue: MailQueue,
    request: MailRequest,
    card: str,
    facts: ReplyFacts,
    *,
    library: Library,
    debt_source: DebtSource,
    render: Render,
    actor: str,
    branch: BranchSettings,
    now: datetime,
) -> str:
    """A code by the rules of every door (the librarian has read the name, so the name and
    sender rules are theirs), sent to the address on the reader's account."""
    patron = store.patron_by_card(card, lock=True)
    if patron is not None and not patron.email:
        raise CommandRejected(
            f"Czytelnik z kartą {shown_card(card)} nie ma adresu e-mail w koncie: "
            "kod można wydać w placówce."
        )
    decision = decide(
        store,
        GiveCode(card, Platform.EMPIK_GO, Channel.EMAIL, branch.id, actor=actor),
        library=library,
        debt_source=debt_source,
        now=now,
    )
    if decision.refusal is not None or patron is None or patron.email is None:
        raise _Refused(decision)
    request.issuance_id = decision.issuance_id
    request.card_number = card
    request.rules = json.dumps(rule_rows(decision.assessment.results), ensure_ascii=False)
    queue.add(request)
    facts = dataclasses.replace(facts, code=decision.code, card=card)
    text = render("mail/issued.txt.j2", **reply_context(facts))
    queue_reply(
        queue, branch=branch, request=request, to=patron.email, text=text, now=now,
        issuance_id=decision.issuance_id,
    )  # fmt: skip
    return f"Wydano kod czytelnikowi z kartą {shown_card(card)}; odpowiedź idzie na {patron.email}."


def resend_reply(command: ResendReply, *, uow: UnitOfWork, now: datetime) -> Settlement:
    with uow:
        reply = uow.queue.send_again(command.reply_id, command.branch_id, now)
        if reply is None:
            return Settlement(False, "Ta odpowiedź nie czeka na ponowne wysłanie.")
        uow.store.audit(
            at=now, actor=f"staff:{command.login}", action="send-again", outcome="done",
            reply=command.reply_id, branch=command.branch_id,
        )  # fmt: skip
        return Settlement(True, f"Odpowiedź do {reply.recipient} wróciła do kolejki wysyłki.")


@dataclass(frozen=True)
class RetryReplies(Command["Settlement"]):
    """Every waiting reply tried now, and the failed ones without a code sent again (after
    an outage: the retry schedule would wait up to an hour)."""

    branch_id: str | None = None  # None: every branch
    login: str = "system"


def retry_replies(
    command: RetryReplies, *, uow: UnitOfWork, links: Links, now: datetime
) -> Settlement:
    with uow:
        waiting, failed = uow.queue.retry_now(command.branch_id, now)
        uow.store.audit(
            at=now, actor=f"staff:{command.login}", action="replies-retry", outcome="done",
            branch=command.branch_id, waiting=waiting, failed=failed,
        )  # fmt: skip
    links.try_now(SMTP_LINK)
    if not waiting and not failed:
        return Settlement(False, "Żadna odpowiedź nie czeka na ponowną próbę.")
    return Settlement(
        True,
        f"Odpowiedzi wysyłane teraz: czekające {waiting}, niewysłane wcześniej {failed}. "
        "Demon wyśle je w najbliższym przebiegu.",
    )
