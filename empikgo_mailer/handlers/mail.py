"""The e-mail door's decisions: the branch's queue, strictly in receipt order, only while
the branch is open.

Each decision, the code it takes and the reply it causes are committed in one
transaction; the sender only transmits replies that are already in the database, so a
crash can neither lose a reply nor send one the database does not know about.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.mail_queue import MailQueue
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import MailRequest, OutboxMessage
from empikgo_mailer.config import BranchSettings, MailSettings
from empikgo_mailer.domain.addresses import address_key
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.explanations import rule_rows
from empikgo_mailer.domain.mail_headers import storable
from empikgo_mailer.domain.mail_outcomes import SET_ASIDE_OUTCOMES, TEMPLATE_OF, MailOutcome
from empikgo_mailer.domain.mail_requests import card_numbers
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.replies import (
    Render,
    ReplyFacts,
    compose_reply,
    reply_context,
)
from empikgo_mailer.domain.screening import MailFacts, screen
from empikgo_mailer.domain.statuses import RequestKind, RequestStatus
from empikgo_mailer.handlers.codes import GiveCode, decide
from empikgo_mailer.handlers.debt import DebtSource
from empikgo_mailer.handlers.library import Library

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


@dataclass
class DecideReport:
    open: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class MailDoor:
    """What deciding a mail request needs, wired once by bootstrap."""

    db: Database
    library: Library
    debt_source: DebtSource
    render: Render
    mail: MailSettings


def _decide_one(
    queue: MailQueue,
    *,
    door: MailDoor,
    branch: BranchSettings,
    request: MailRequest,
    replies_today: Counter[str],
    now: datetime,
) -> str:
    """One decision inside the caller's transaction (and savepoint): screen, decide,
    render, and write the reply to the outbox."""
    calendar = door.library.calendar
    month = calendar.month_of(now)
    facts = ReplyFacts(
        branch_name=branch.name,
        branch_address=branch.address,
        received=calendar.local(request.received_at),
        month=month,
        card=request.card_number,
        size_bytes=request.size,
        limit_bytes=door.mail.max_message_bytes,
        activation_url=door.library.activation_url(Platform.EMPIK_GO),
    )
    sender_key = address_key(request.sender) if request.sender is not None else ""
    screened = screen(
        MailFacts(
            sender=request.sender,
            replies_today=replies_today[sender_key],
            too_large=request.kind == RequestKind.TOO_LARGE,
            written_in=calendar.month_of(request.received_at),
            card=request.card_number,
        ),
        month=month,
        daily_limit=door.mail.max_replies_per_sender_per_day,
    )
    outcome: str
    if screened is MailOutcome.CARD_MISSING:
        cards = tuple(request.cards.split()) if request.cards else card_numbers(request.words)
        facts = dataclasses.replace(facts, cards=cards)
    if screened is not None:
        outcome = screened
    else:
        assert request.card_number is not None  # screened: one card number
        decision = decide(
            Store(queue.session, door.library.offered),
            GiveCode(
                request.card_number,
                Platform.EMPIK_GO,
                Channel.EMAIL,
                branch.id,
                written_name=request.name_words or request.words,
                sender=request.sender,
                actor=f"mail:{branch.id}",
            ),
            library=door.library,
            debt_source=door.debt_source,
            now=now,
        )
        request.issuance_id = decision.issuance_id
        request.rules = json.dumps(rule_rows(decision.assessment.results), ensure_ascii=False)
        refusal = decision.refusal
        if refusal is None:
            outcome = MailOutcome.ISSUED
            facts = dataclasses.replace(facts, code=decision.code)
        else:
            outcome = str(refusal.reason)
            facts = dataclasses.replace(facts, details=dict(refusal.details))
    status = RequestStatus.SET_ASIDE if outcome in SET_ASIDE_OUTCOMES else RequestStatus.DECIDED
    request.status, request.outcome, request.decided_at = status, outcome, now
    template = TEMPLATE_OF.get(outcome)  # no template: no reply (rate limit, no sender)
    if template is not None and request.sender is not None:
        text = door.render(f"mail/{template}.txt.j2", **reply_context(facts))
        queue_reply(queue, branch=branch, request=request, to=request.sender, text=text, now=now)
        replies_today[sender_key] += 1
    return outcome


def queue_reply(
    queue: MailQueue,
    *,
    branch: BranchSettings,
    request: MailRequest,
    to: str,
    text: str,
    now: datetime,
) -> None:
    """Write the reply to `request` into the outbox, threaded to it (In-Reply-To and
    References), from the branch's mailbox; the sender loop sends it."""
    reply = compose_reply(
        text=text,
        from_name=branch.name,
        from_address=branch.mailbox,
        to_address=to,
        original_subject=request.subject,
        original_message_id=request.message_id,
        original_references=request.references,
        now=now,
    )
    queue.add(
        OutboxMessage(
            request_id=request.id,
            branch_id=branch.id,
            sender=branch.mailbox,
            recipient=to,
            recipient_key=address_key(to),
            message_id=reply.message_id,
            message=reply.text,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _set_aside_as_failed(request: MailRequest, error: str, now: datetime) -> None:
    request.attempts = MAX_ATTEMPTS
    request.note = storable(error, 2000)
    request.status, request.outcome, request.decided_at = (
        RequestStatus.SET_ASIDE,
        MailOutcome.FAILED,
        now,
    )


DECISION_BATCH = 100


def _decide_safely(
    queue: MailQueue,
    *,
    door: MailDoor,
    branch: BranchSettings,
    request: MailRequest,
    replies_today: Counter[str],
    now: datetime,
) -> str:
    """Up to MAX_ATTEMPTS tries, each in a savepoint: a failure rolls back that message's
    decision only (no code is taken for it); then the message is set aside for staff."""
    error = ""
    for _ in range(MAX_ATTEMPTS):
        counted = replies_today.copy()
        try:
            with queue.session.begin_nested():
                return _decide_one(
                    queue,
                    door=door,
                    branch=branch,
                    request=request,
                    replies_today=replies_today,
                    now=now,
                )
        except Exception as exc:
            log.exception("deciding mail request %s failed", request.id)
            error = f"{type(exc).__name__}: {exc}"
            replies_today.clear()
            replies_today.update(counted)
    _set_aside_as_failed(request, error, now)
    return MailOutcome.FAILED


def decide_queue(
    branch_id: str,
    *,
    door: MailDoor,
    clock: Clock,
    should_stop: Callable[[], bool] = lambda: False,
) -> DecideReport:
    """Decide the branch's queue strictly in receipt order, only while the branch is open.

    Decisions are committed in batches: each decision, its code and its reply always share
    one transaction; a batch is several of them committed together, and a savepoint per
    request lets one failing message be set aside alone. `should_stop` is asked before
    every decision: a daemon told to stop commits what it decided and leaves the rest
    queued, in order, for the next pass.
    """
    branch = door.library.branch(branch_id)
    calendar = door.library.calendar
    report = DecideReport()
    while calendar.is_open(branch.hours, clock()) and not should_stop():
        report.open = True
        with door.db.transaction() as session:
            queue = MailQueue(session)
            batch = queue.next_queued(branch_id, DECISION_BATCH)
            day_start = calendar.at(calendar.today(clock()), datetime.min.time())
            senders = {address_key(r.sender) for r in batch if r.sender is not None}
            replies_today = queue.replies_since(senders, day_start)
            for request in batch:
                now = clock()
                if not calendar.is_open(branch.hours, now) or should_stop():
                    break
                outcome = _decide_safely(
                    queue,
                    door=door,
                    branch=branch,
                    request=request,
                    replies_today=replies_today,
                    now=now,
                )
                report.outcomes[outcome] += 1
                # The request id and outcome only: never the code, the card or the address.
                log.info(
                    "request decided",
                    extra={"request_id": request.id, "branch": branch_id, "outcome": outcome},
                )
        if len(batch) < DECISION_BATCH:
            break
    return report
