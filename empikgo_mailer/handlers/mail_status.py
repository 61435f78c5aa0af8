"""What staff see of the mail door: per branch the queue, today's decisions, what is set
aside, the replies waiting or failed (with why, and since when), and the SMTP link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.adapters.outbox import Links
from empikgo_mailer.adapters.tables import LinkState
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.queue_status import QueueStatus
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.mail_send import SMTP_LINK


@dataclass(frozen=True)
class MailStatus:
    queues: list[QueueStatus]
    smtp: LinkState | None


def queue_status(*, uow: UnitOfWork, library: Library, now: datetime) -> list[QueueStatus]:
    calendar = library.calendar
    day_start = calendar.at(calendar.today(now), datetime.min.time())
    with uow:
        queue = uow.queue
        return [queue.status(branch_id, day_start) for branch_id in library.branches]


@dataclass(frozen=True)
class ShowMailStatus(Command["MailStatus"]):
    """Every branch's queue, outbox and filing, and the SMTP link, for `status`."""


def mail_status(
    query: ShowMailStatus, *, uow: UnitOfWork, library: Library, now: datetime
) -> MailStatus:
    return MailStatus(
        queues=queue_status(uow=uow, library=library, now=now), smtp=Links(uow.db).get(SMTP_LINK)
    )
