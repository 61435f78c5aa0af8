"""What staff see of one branch's mail: the queue, today's decisions, what is set aside,
and the replies waiting or failed (with why, and since when)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FailedReply:
    id: int  # the outbox row: "send again" names it
    recipient: str
    error: str
    created_at: datetime


@dataclass(frozen=True)
class UndeliveredCode:
    """A code whose reply was refused for good or bounced (RULES section 8): staff send it
    again once the reader's address is corrected, or return it to the pool."""

    issuance_id: int  # the actions name it
    card_number: str
    month: str
    sent_to: str  # where the refused reply went
    address_now: str | None  # the reader's address on file now
    reason: str  # the server's answer
    at: datetime


@dataclass(frozen=True)
class QueueStatus:
    branch_id: str
    waiting: int
    oldest_waiting: datetime | None  # receipt time of the first request in the queue
    decided_today: dict[str, int]
    set_aside: int  # waiting for staff: the set-aside list's length
    set_aside_unfiled: int  # set aside and still in the inbox (filing failed or waiting)
    filing_errors: list[str]
    outbox_pending: int
    oldest_pending: datetime | None  # when the oldest reply waiting was written
    pending_error: str | None  # the newest error among replies waiting
    outbox_failed: int
    failed_replies: list[FailedReply]  # why each permanently failed reply failed
    undelivered_codes: list[UndeliveredCode] = field(default_factory=list)
