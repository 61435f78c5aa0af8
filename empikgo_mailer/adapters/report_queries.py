"""The month report's figures, counted in the database per pool (platform, branch)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from empikgo_mailer.adapters.tables import (
    AuditEvent,
    Ban,
    Code,
    Issuance,
    MailRequest,
    MonthClose,
    OutboxMessage,
)
from empikgo_mailer.domain.mail_outcomes import REFUSED_BEFORE_DECISION
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform, platform_by_id
from empikgo_mailer.domain.statuses import CodeStatus

PoolKey = tuple[Platform, str | None]


@dataclass
class PoolFigures:
    loaded: int = 0
    lapsed: int = 0
    given: Counter[str] = field(default_factory=Counter)  # per channel
    activated: int = 0  # in time
    expired: int = 0
    banned: int = 0  # readers banned for a code of this pool (bans still in force)
    refused: Counter[str] = field(default_factory=Counter)  # per reason or mail outcome
    waits: list[timedelta] = field(default_factory=list)  # e-mail: receipt to reply sent
    issued_at: list[datetime] = field(default_factory=list)


def pool_of(platform: Platform, branch_id: str | None) -> PoolKey:
    """Legimi codes come from the library-wide pool, wherever they were handed out."""
    return (platform, branch_id if platform.pooled_per_branch else None)


class ReportQueries:
    def __init__(self, session: Session, platforms: Iterable[Platform]) -> None:
        self.session = session
        self.platforms = tuple(platforms)
        self.pools: defaultdict[PoolKey, PoolFigures] = defaultdict(PoolFigures)

    def _pool(self, platform: str, branch_id: str | None) -> PoolFigures:
        return self.pools[pool_of(platform_by_id(platform, self.platforms), branch_id)]

    def closed_at(self, month: Month) -> datetime | None:
        record = self.session.get(MonthClose, str(month))
        return None if record is None else record.closed_at

    def count(self, month: Month, start: datetime, end: datetime) -> dict[PoolKey, PoolFigures]:
        self._codes(month)
        self._issuances(month, end)
        self._bans(month)
        self._refusals(start, end)
        self._waits(start, end)
        return dict(self.pools)

    def _codes(self, month: Month) -> None:
        rows = self.session.execute(
            sql_select(col(Code.platform), col(Code.branch_id), col(Code.status), func.count())
            .where(col(Code.month) == str(month))
            .group_by(col(Code.platform), col(Code.branch_id), col(Code.status))
        )
        for platform, branch_id, status, number in rows:
            figures = self._pool(platform, branch_id)
            figures.loaded += int(number)
            if status == CodeStatus.LAPSED:
                figures.lapsed += int(number)

    def _issuances(self, month: Month, deadline: datetime) -> None:
        rows = self.session.execute(
            sql_select(
                col(Code.platform),
                col(Code.branch_id),
                col(Issuance.channel),
                col(Issuance.issued_at),
                col(Issuance.expired_at),
                col(Code.activated_at),
            )
            .join(Code, col(Code.id) == col(Issuance.code_id))
            .where(col(Issuance.month) == str(month))
        )
        for platform, branch_id, channel, issued_at, expired_at, activated_at in rows:
            figures = self._pool(platform, branch_id)
            figures.given[channel] += 1
            figures.issued_at.append(issued_at)
            if activated_at is not None and activated_at < deadline:
                figures.activated += 1
            if expired_at is not None:
                figures.expired += 1

    def _bans(self, month: Month) -> None:
        rows = self.session.execute(
            sql_select(col(Code.platform), col(Code.branch_id), func.count())
            .select_from(Ban)
            .join(
                Issuance,
                and_(
                    col(Issuance.patron_id) == col(Ban.patron_id),
                    col(Issuance.month) == col(Ban.cause_month),
                ),
            )
            .join(Code, col(Code.id) == col(Issuance.code_id))
            .where(col(Ban.cause_month) == str(month), col(Ban.lifted_at).is_(None))
            .group_by(col(Code.platform), col(Code.branch_id))
        )
        for platform, branch_id, number in rows:
            self._pool(platform, branch_id).banned += int(number)

    def _refusals(self, start: datetime, end: datetime) -> None:
        """Every refused decision of the month, at any door (the audit trail has them all),
        and the e-mail requests refused before a decision (no card number, too large...)."""
        audits = self.session.execute(
            sql_select(col(AuditEvent.outcome), col(AuditEvent.details)).where(
                col(AuditEvent.action) == "give-code",
                col(AuditEvent.outcome) != "issued",
                col(AuditEvent.at) >= start,
                col(AuditEvent.at) < end,
            )
        )
        for outcome, details in audits:
            facts = json.loads(details)
            self._pool(facts["platform"], facts.get("branch")).refused[outcome] += 1
        requests = self.session.execute(
            sql_select(col(MailRequest.branch_id), col(MailRequest.outcome)).where(
                col(MailRequest.outcome).in_([o.value for o in REFUSED_BEFORE_DECISION]),
                col(MailRequest.decided_at) >= start,
                col(MailRequest.decided_at) < end,
            )
        )
        for branch_id, outcome in requests:
            self._pool(Platform.EMPIK_GO.value, branch_id).refused[outcome] += 1

    def _waits(self, start: datetime, end: datetime) -> None:
        rows = self.session.execute(
            sql_select(
                col(MailRequest.branch_id), col(MailRequest.received_at), col(OutboxMessage.sent_at)
            )
            .join(OutboxMessage, col(OutboxMessage.request_id) == col(MailRequest.id))
            .where(
                col(OutboxMessage.sent_at).is_not(None),
                col(MailRequest.decided_at) >= start,
                col(MailRequest.decided_at) < end,
            )
        )
        for branch_id, received_at, sent_at in rows:
            self._pool(Platform.EMPIK_GO.value, branch_id).waits.append(sent_at - received_at)
