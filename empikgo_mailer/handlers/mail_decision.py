"""What deciding one mail request takes: screening, the reply's facts, the reply and its
outbox row."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from empikgo_mailer.config import BranchSettings, MailSettings
from empikgo_mailer.domain.addresses import address_key
from empikgo_mailer.domain.mail_outcomes import TEMPLATE_OF, MailOutcome
from empikgo_mailer.domain.mail_requests import card_numbers
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.replies import Render, ReplyFacts, compose_reply, reply_context
from empikgo_mailer.domain.screening import MailFacts, screen
from empikgo_mailer.domain.statuses import ReplyStatus, RequestKind
from empikgo_mailer.handlers.code_supply import PoolMarks
from empikgo_mailer.handlers.debt import DebtSource
from empikgo_mailer.handlers.library import Library


@dataclass(frozen=True)
class Deciding:
    """What deciding a mail request needs: the dependencies the dispatcher gave the
    handler (`mail.decide_queue`), for the helpers it shares with the batch."""

    library: Library
    debt_source: DebtSource
    render: Render
    mail: MailSettings
    # Where each pool's batches got to (code_supply.CodeSupply), on PostgreSQL.
    code_marks: PoolMarks | None = None


class QueuedRequest(Protocol):
    """What a decision reads of a queued request: an ORM row or a plain selected row."""

    id: int | None
    sender: str | None
    kind: RequestKind
    received_at: datetime
    card_number: str | None
    cards: str | None
    words: str
    name_words: str | None
    size: int
    subject: str
    message_id: str | None
    references: str | None


def sender_key(request: QueuedRequest) -> str:
    return address_key(request.sender) if request.sender is not None else ""


def screened_facts(
    deciding: Deciding,
    branch: BranchSettings,
    request: QueuedRequest,
    *,
    replies_today: int,
    now: datetime,
) -> tuple[ReplyFacts, MailOutcome | None]:
    """What a reply may say about the request, and the outcome of screening it (None:
    the rules decide)."""
    calendar = deciding.library.calendar
    month = calendar.month_of(now)
    facts = ReplyFacts(
        branch_name=branch.name,
        branch_address=branch.address,
        received=calendar.local(request.received_at),
        month=month,
        card=request.card_number,
        size_bytes=request.size,
        limit_bytes=deciding.mail.max_message_bytes,
        activation_url=deciding.library.activation_url(Platform.EMPIK_GO),
    )
    screened = screen(
        MailFacts(
            sender=request.sender,
            replies_today=replies_today,
            too_large=request.kind == RequestKind.TOO_LARGE,
            written_in=calendar.month_of(request.received_at),
            card=request.card_number,
        ),
        month=month,
        daily_limit=deciding.mail.max_replies_per_sender_per_day,
    )
    if screened is MailOutcome.CARD_MISSING:
        cards = tuple(request.cards.split()) if request.cards else card_numbers(request.words)
        facts = dataclasses.replace(facts, cards=cards)
    return facts, screened


def reply_text(
    deciding: Deciding, outcome: str, facts: ReplyFacts, sender: str | None
) -> str | None:
    """The reply an outcome gets; None for no reply (rate limit, nobody to answer)."""
    template = TEMPLATE_OF.get(outcome)
    if template is None or sender is None:
        return None
    return deciding.render(f"mail/{template}.txt.j2", **reply_context(facts))


def reply_row(
    *, branch: BranchSettings, request: QueuedRequest, to: str, text: str, now: datetime
) -> dict[str, Any]:
    """The outbox row of a reply to `request`."""
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
    return {
        "request_id": request.id,
        "branch_id": branch.id,
        "sender": branch.mailbox,
        "recipient": to,
        "recipient_key": address_key(to),
        "message_id": reply.message_id,
        "message": reply.text,
        "status": ReplyStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
