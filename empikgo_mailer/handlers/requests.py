"""What the console shows of one branch's mail: the queue in receipt order, today's
decisions, the messages set aside for staff, and one request with its reply."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.adapters.tables import MailRequest, OutboxMessage
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.statuses import RequestStatus
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library

SHOWN = 500  # rows per list: a longer queue is counted on the dashboard, not listed


@dataclass(frozen=True)
class QueueView:
    waiting: list[MailRequest]  # receipt order: position = index + 1; the first SHOWN
    waiting_total: int
    decided_today: list[MailRequest]  # newest first


@dataclass(frozen=True)
class RequestView:
    request: MailRequest
    rules: list[dict[str, str]]  # each rule as it stood when the request was decided
    replies: list[OutboxMessage]
    position: int | None  # in the queue, while it waits


@dataclass(frozen=True)
class ShowQueue(Command["QueueView"]):
    branch_id: str


@dataclass(frozen=True)
class ShowSetAside(Command["list[MailRequest]"]):
    branch_id: str


@dataclass(frozen=True)
class ShowRequest(Command["RequestView"]):
    request_id: int
    branch_id: str  # a request of another branch is not found


def show_queue(query: ShowQueue, *, uow: UnitOfWork, library: Library, now: datetime) -> QueueView:
    calendar = library.calendar
    day_start = calendar.at(calendar.today(now), datetime.min.time())
    with uow:
        queue = uow.queue
        return QueueView(
            waiting=queue.waiting(query.branch_id, SHOWN),
            waiting_total=queue.count_waiting(query.branch_id),
            decided_today=queue.decided_since(query.branch_id, day_start, SHOWN),
        )


def show_set_aside(query: ShowSetAside, *, uow: UnitOfWork) -> list[MailRequest]:
    with uow:
        return uow.queue.set_aside(query.branch_id, SHOWN)


def show_request(query: ShowRequest, *, uow: UnitOfWork) -> RequestView:
    with uow:
        queue = uow.queue
        request = queue.request(query.request_id)
        if request is None or request.branch_id != query.branch_id:
            raise CommandRejected("Nie ma takiej wiadomości.")
        position = None
        if request.id is not None and request.status is RequestStatus.QUEUED:
            position = queue.position_in_queue(request)
        rules = json.loads(request.rules) if request.rules else []
        return RequestView(request, rules, queue.replies_to(query.request_id), position)
