"""Reading the audit trail, inside a transaction the caller owns (writing is `Store.audit`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from empikgo_mailer.adapters.tables import AuditEvent


class AuditTrail:
    def __init__(self, session: Session) -> None:
        self.session = session

    def events(
        self,
        *,
        actor_part: str,
        action: str,
        card_number: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """The newest events first, `offset` of them skipped (a page further back); an
        empty or None filter is no filter."""
        statement = select(AuditEvent)
        if actor_part:
            statement = statement.where(col(AuditEvent.actor).contains(actor_part))
        if action:
            statement = statement.where(AuditEvent.action == action)
        if card_number is not None:
            statement = statement.where(AuditEvent.card_number == card_number)
        if since is not None:
            statement = statement.where(col(AuditEvent.at) >= since)
        if until is not None:
            statement = statement.where(col(AuditEvent.at) < until)
        statement = statement.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        return list(self.session.exec(statement.offset(offset).limit(limit)))

    def actions(self) -> list[str]:
        return sorted(set(self.session.exec(select(AuditEvent.action).distinct())))
