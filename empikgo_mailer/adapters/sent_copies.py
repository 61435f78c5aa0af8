"""Which sent replies still need their copy in the branch mailbox's Sent folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, update
from sqlmodel import col, select

from empikgo_mailer.adapters.database import Database, in_chunks
from empikgo_mailer.adapters.tables import OutboxMessage
from empikgo_mailer.domain.statuses import ReplyStatus


@dataclass(frozen=True)
class SentReply:
    id: int
    message_id: str
    message: str
    sent_at: datetime


def _waiting(branch_id: str) -> tuple[ColumnElement[bool], ...]:
    reply = OutboxMessage
    return (
        col(reply.branch_id) == branch_id,
        col(reply.status) == ReplyStatus.SENT,
        col(reply.copied_at).is_(None),
        col(reply.copy_error).is_(None),
    )


class SentCopies:
    def __init__(self, db: Database) -> None:
        self.db = db

    def waiting(self, branch_id: str, limit: int) -> list[SentReply]:
        """Sent, not yet copied, oldest first; a reply whose copy the server refused is
        left out (its error is kept) so that it cannot hold up the others. Four columns,
        not whole rows: a month's first morning copies 10,000 of them."""
        reply = OutboxMessage
        with self.db.transaction() as session:
            rows = session.exec(
                select(col(reply.id), col(reply.message_id), col(reply.message), col(reply.sent_at))
                .where(*_waiting(branch_id))
                .order_by(col(reply.sent_at), col(reply.id))
                .limit(limit)
            ).all()
            return [
                SentReply(id_, message_id, message, sent_at)
                for id_, message_id, message, sent_at in rows
                if id_ is not None and sent_at is not None
            ]

    def count_waiting(self, branch_id: str, up_to: int) -> int:
        """How many replies `waiting` would give, counted up to `up_to` only."""
        some = select(OutboxMessage.id).where(*_waiting(branch_id)).limit(up_to).subquery()
        with self.db.transaction() as session:
            return int(session.exec(select(func.count()).select_from(some)).one())

    def oldest_waiting(self, branch_id: str) -> datetime | None:
        """When the longest-waiting reply of `waiting` was sent."""
        reply = OutboxMessage
        with self.db.transaction() as session:
            return session.exec(select(func.min(reply.sent_at)).where(*_waiting(branch_id))).one()

    def copied(self, reply_ids: Sequence[int], now: datetime) -> None:
        with self.db.transaction() as session:
            for chunk in in_chunks(list(reply_ids)):
                session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(chunk))
                    .values(copied_at=now)
                )

    def refused(self, reply_id: int, error: str) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == reply_id)
                .values(copy_error=error[:2000])
            )
