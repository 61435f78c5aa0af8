"""Reading the audit trail: who did what, when and from where, filtered for the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlmodel import col, select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import AuditEvent
from empikgo_mailer.domain.card_number import CardNumber, InvalidCardNumber
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library

PAGE = 200


@dataclass(frozen=True)
class ShowAudit(Command["list[AuditEvent]"]):
    """The newest events first; every filter is optional."""

    actor: str = ""  # a part of the actor: "staff:" for every staff action, or a login
    action: str = ""
    card_number: str = ""
    day_from: date | None = None
    day_to: date | None = None  # inclusive
    limit: int = PAGE


def show_audit(query: ShowAudit, *, db: Database, library: Library) -> list[AuditEvent]:
    calendar = library.calendar
    statement = select(AuditEvent)
    if query.actor.strip():
        statement = statement.where(col(AuditEvent.actor).contains(query.actor.strip()[:64]))
    if query.action.strip():
        statement = statement.where(AuditEvent.action == query.action.strip()[:32])
    if query.card_number.strip():
        try:
            card = str(CardNumber.parse(query.card_number))
        except InvalidCardNumber as exc:
            raise CommandRejected(f"Numer karty: {exc}") from None
        statement = statement.where(AuditEvent.card_number == card)
    if query.day_from is not None:
        statement = statement.where(col(AuditEvent.at) >= calendar.at(query.day_from, time.min))
    if query.day_to is not None:
        end = calendar.at(query.day_to + timedelta(days=1), time.min)
        statement = statement.where(col(AuditEvent.at) < end)
    statement = statement.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    with db.transaction() as session:
        return list(session.exec(statement.limit(max(1, min(query.limit, 1000)))))


@dataclass(frozen=True)
class ShowAuditActions(Command["list[str]"]):
    """Every action the trail holds, for the filter's list."""


def show_audit_actions(query: ShowAuditActions, *, db: Database) -> list[str]:
    with db.transaction() as session:
        return sorted(set(session.exec(select(AuditEvent.action).distinct())))
