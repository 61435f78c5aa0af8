"""Reading the audit trail: who did what, when and from where, filtered for the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from empikgo_mailer.adapters.tables import AuditEvent
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.card_number import CardNumber, InvalidCardNumber
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library

PAGE = 50  # events on one page of the console


@dataclass(frozen=True)
class ShowAudit(Command["list[AuditEvent]"]):
    """The newest events first; every filter is optional."""

    actor: str = ""  # a part of the actor: "staff:" for every staff action, or a login
    action: str = ""
    card_number: str = ""
    day_from: date | None = None
    day_to: date | None = None  # inclusive
    limit: int = PAGE
    offset: int = 0  # events skipped: the pages before this one


def show_audit(query: ShowAudit, *, uow: UnitOfWork, library: Library) -> list[AuditEvent]:
    calendar = library.calendar
    card: str | None = None
    if query.card_number.strip():
        try:
            card = str(CardNumber.parse(query.card_number))
        except InvalidCardNumber as exc:
            raise CommandRejected(f"Numer karty: {exc}") from None
    since = calendar.at(query.day_from, time.min) if query.day_from is not None else None
    until = (
        calendar.at(query.day_to + timedelta(days=1), time.min)
        if query.day_to is not None
        else None
    )
    with uow:
        return uow.audit.events(
            actor_part=query.actor.strip()[:64],
            action=query.action.strip()[:32],
            card_number=card,
            since=since,
            until=until,
            limit=max(1, min(query.limit, 1000)),
            offset=max(0, query.offset),
        )


@dataclass(frozen=True)
class ShowAuditActions(Command["list[str]"]):
    """Every action the trail holds, for the filter's list."""


def show_audit_actions(query: ShowAuditActions, *, uow: UnitOfWork) -> list[str]:
    with uow:
        return uow.audit.actions()
