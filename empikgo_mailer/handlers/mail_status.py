"""What staff see of the mail door: per branch the queue, today's decisions, what is set
aside, the replies waiting or failed (with why, and since when), and the SMTP link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.outbox import Links
from empikgo_mailer.adapters.tables import LinkState, MailRequest, OutboxMessage
from empikgo_mailer.domain.statuses import ReplyStatus, RequestStatus
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.mail_send import SMTP_LINK


@dataclass(frozen=True)
class FailedReply:
    recipient: str
    error: str
    created_at: datetime


@dataclass(frozen=True)
class QueueStatus:
    branch_id: str
    waiting: int
    oldest_waiting: datetime | None  # receipt time of the first request in the queue
    decided_today: dict[str, int]
    set_aside_unfiled: int  # set aside and still in the inbox (filing failed or waiting)
    filing_errors: list[str]
    outbox_pending: int
    oldest_pending: datetime | None  # when the oldest reply waiting was written
    pending_error: str | None  # the newest error among replies waiting
    outbox_failed: int
    failed_replies: list[FailedReply]  # why each permanently failed reply failed


@dataclass(frozen=True)
class MailStatus:
    queues: list[QueueStatus]
    smtp: LinkState | None


def queue_status(*, db: Database, library: Library, now: datetime) -> list[QueueStatus]:
    calendar = library.calendar
    day_start = calendar.at(calendar.today(now), datetime.min.time())
    result = []
    with db.transaction() as session:
        for branch_id in library.branches:
            mine = MailRequest.branch_id == branch_id
            waiting, oldest = session.exec(
                select(func.count(), func.min(MailRequest.received_at)).where(
                    mine, MailRequest.status == RequestStatus.QUEUED
                )
            ).one()
            decided = session.exec(
                select(MailRequest.outcome, func.count())
                .where(mine, col(MailRequest.decided_at) >= day_start)
                .group_by(col(MailRequest.outcome))
            ).all()
            filing_errors = session.exec(
                select(MailRequest.filing_error).where(
                    mine, col(MailRequest.filing_error).is_not(None)
                )
            ).all()
            unfiled = session.exec(
                select(func.count()).where(
                    mine,
                    MailRequest.status == RequestStatus.SET_ASIDE,
                    col(MailRequest.filed_at).is_(None),
                )
            ).one()
            theirs = OutboxMessage.branch_id == branch_id
            pending, oldest_pending = session.exec(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    theirs, OutboxMessage.status == ReplyStatus.PENDING
                )
            ).one()
            pending_error = session.exec(
                select(OutboxMessage.last_error)
                .where(
                    theirs,
                    OutboxMessage.status == ReplyStatus.PENDING,
                    col(OutboxMessage.last_error).is_not(None),
                )
                .order_by(col(OutboxMessage.last_attempt_at).desc())
                .limit(1)
            ).first()
            failed = session.exec(
                select(OutboxMessage.recipient, OutboxMessage.last_error, OutboxMessage.created_at)
                .where(theirs, OutboxMessage.status == ReplyStatus.FAILED)
                .order_by(col(OutboxMessage.id))
            ).all()
            result.append(
                QueueStatus(
                    branch_id=branch_id,
                    waiting=int(waiting),
                    oldest_waiting=oldest,
                    decided_today={str(outcome): int(n) for outcome, n in decided},
                    set_aside_unfiled=int(unfiled),
                    filing_errors=[str(e) for e in filing_errors],
                    outbox_pending=int(pending),
                    oldest_pending=oldest_pending,
                    pending_error=pending_error,
                    outbox_failed=len(failed),
                    failed_replies=[FailedReply(r, e or "", c) for r, e, c in failed],
                )
            )
    return result


@dataclass(frozen=True)
class ShowMailStatus(Command["MailStatus"]):
    """Every branch's queue, outbox and filing, and the SMTP link, for `status`."""


def mail_status(
    query: ShowMailStatus, *, db: Database, library: Library, now: datetime
) -> MailStatus:
    return MailStatus(
        queues=queue_status(db=db, library=library, now=now), smtp=Links(db).get(SMTP_LINK)
    )
