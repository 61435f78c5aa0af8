"""What deciding one mail request takes: screening, the reply's facts, the reply and its
outbox row."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from empikgo_mailer.config import BranchSettings, MailSettings
from empikgo_mailer.domain.addresses import address_key
from empikgo_mailer.domain.mail_outcomes import TEMPLATE_OF, MailOutcome
from empikgo_mailer.domain.mail_requests import card_numbers
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.replies import Render, ReplyFacts, compose_reply, reply_context
from empikgo_mailer.domain.screening import MailFacts, screen
from empikgo_mailer.domain.statuses import ReplyPriority, ReplyStatus, RequestKind
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


@dataclass
class SenderTally:
    """What deciding counts per sender, read for a batch and kept up as it decides: the
    replies each sender got today, and the replies to senders not on file the branch may
    still write this hour (RULES section 9)."""

    replies_today: Counter[str] = field(default_factory=Counter)
    strangers_left: int = 0
    # The batch's senders that are on file for some reader; None: not asked (the library
    # does not require requests to come from the address on file).
    on_file: frozenset[str] | None = None

    def copy(self) -> SenderTally:
        return dataclasses.replace(self, replies_today=self.replies_today.copy())

    def restore(self, earlier: SenderTally) -> None:
        """Back to `earlier` (a copy), after a decision was rolled back."""
        self.replies_today = earlier.replies_today.copy()
        self.strangers_left = earlier.strangers_left

    def count(self, key: str, outcome: str) -> None:
        """A reply was written to `key` for `outcome`."""
        self.replies_today[key] += 1
        self.strangers_left -= outcome == MailOutcome.STRANGER


def screened_facts(
    deciding: Deciding,
    branch: BranchSettings,
    request: QueuedRequest,
    *,
    tally: SenderTally,
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
    key = sender_key(request)
    screened = screen(
        MailFacts(
            sender=request.sender,
            replies_today=tally.replies_today[key],
            too_large=request.kind == RequestKind.TOO_LARGE,
            written_in=calendar.month_of(request.received_at),
            card=request.card_number,
            on_file=None if tally.on_file is None else key in tally.on_file,
            strangers_left=tally.strangers_left,
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
    *,
    branch: BranchSettings,
    request: QueuedRequest,
    to: str,
    text: str,
    now: datetime,
    priority: ReplyPriority = ReplyPriority.READER,
    issuance_id: int | None = None,
) -> dict[str, Any]:
    """The outbox row of a reply to `request`; `issuance_id`: the code it carries."""
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
        "issuance_id": issuance_id,
        "priority": int(ReplyPriority.CODE if issuance_id is not None else priority),
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
