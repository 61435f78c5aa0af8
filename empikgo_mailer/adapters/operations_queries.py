"""What the IT person's tools read: `/readyz`, `/metrics`, `doctor`. Every figure comes
from the database, so the web process reports what the daemon (another process) did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, text
from sqlmodel import col, select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import (
    Code,
    Heartbeat,
    Issuance,
    LinkState,
    MailRequest,
    OutboxMessage,
)
from empikgo_mailer.domain.statuses import CodeStatus, ReplyStatus, RequestStatus


@dataclass(frozen=True)
class Figures:
    waiting: dict[str, int]  # branch -> requests queued
    set_aside: dict[str, int]  # branch -> messages waiting for staff
    decisions: dict[tuple[str, str], int]  # (branch, outcome) -> ever
    codes_left: dict[tuple[str, str, str], int]  # (platform, pool, month) -> free codes
    replies: dict[str, int]  # pending / sent / failed / bounced -> rows
    undelivered: dict[str, int]  # branch -> codes that never reached their readers
    links: list[LinkState]
    heartbeat: Heartbeat | None
    oldest_pending: datetime | None  # when the reply waiting longest was written


def ping(db: Database) -> None:
    """Raises when the database cannot answer."""
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def heartbeat(db: Database, name: str = "daemon") -> Heartbeat | None:
    with db.transaction() as session:
        return session.get(Heartbeat, name)


def figures(db: Database, month: str) -> Figures:
    """One short read per family of figures; all grouped in the database."""
    request, reply, code = MailRequest, OutboxMessage, Code
    with db.transaction() as session:
        by_status = session.exec(
            select(col(request.branch_id), col(request.status), func.count())
            .where(col(request.status) != RequestStatus.DECIDED)
            .group_by(col(request.branch_id), col(request.status))
        ).all()
        decided = session.exec(
            select(col(request.branch_id), col(request.outcome), func.count())
            .where(col(request.status) == RequestStatus.DECIDED)
            .group_by(col(request.branch_id), col(request.outcome))
        ).all()
        is_free = case((col(code.status) == CodeStatus.FREE, 1), else_=0)
        free = session.exec(
            select(col(code.platform), col(code.branch_id), func.sum(is_free))
            .where(col(code.month) == month)
            .group_by(col(code.platform), col(code.branch_id))
        ).all()
        replies = session.exec(
            select(col(reply.status), func.count()).group_by(col(reply.status))
        ).all()
        undelivered = session.exec(
            select(col(Issuance.branch_id), func.count())
            .where(col(Issuance.undelivered_at).is_not(None))
            .group_by(col(Issuance.branch_id))
        ).all()
        links = list(session.exec(select(LinkState).order_by(col(LinkState.link))))
        oldest = session.exec(
            select(func.min(col(reply.created_at))).where(col(reply.status) == ReplyStatus.PENDING)
        ).one()
        beat = session.get(Heartbeat, "daemon")
    return Figures(
        waiting={b: n for b, s, n in by_status if s == RequestStatus.QUEUED},
        set_aside={b: n for b, s, n in by_status if s == RequestStatus.SET_ASIDE},
        decisions={(b, o or "unknown"): n for b, o, n in decided},
        codes_left={(p, b or "library", month): int(n or 0) for p, b, n in free},
        replies={str(s): n for s, n in replies},
        undelivered={b or "library": n for b, n in undelivered},
        links=links,
        heartbeat=beat,
        oldest_pending=oldest,
    )
