"""Closing a month (RULES.md sections 2 and 3): unused codes lapse, unactivated codes
expire and cost their holders three months without codes.

Closing is idempotent: the month's `month_close` row is written in the same transaction
as its effects, so a second run (by hand, by the scheduler, after a crash) changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time

from empikgo_mailer.adapters.tables import Ban, MonthClose
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.activation import ban_months
from empikgo_mailer.domain.errors import Conflict
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import moment_text, month_name
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CloseMonth(Command["CloseReport"]):
    month: Month
    actor: str = "system"


@dataclass(frozen=True)
class CloseReport:
    month: Month
    closed_at: datetime
    already_closed: bool
    lapsed: int  # codes never given
    expired: int  # codes given and not activated in time
    banned: int  # readers banned for the next three months
    undelivered: int = 0  # codes that never reached their readers: nobody banned for them


def close_month(
    command: CloseMonth, *, uow: UnitOfWork, library: Library, now: datetime
) -> CloseReport:
    month = command.month
    deadline = library.calendar.month_end(month)
    if now < deadline:
        raise CommandRejected(
            f"Miesiąc {month_name(month)} jeszcze trwa: można go zamknąć od "
            f"{moment_text(deadline)}."
        )
    try:
        with uow:
            store = uow.store
            done = uow.get(MonthClose, str(month))
            if done is not None:
                return _report(
                    done, already_closed=True, undelivered=store.undelivered_count(month)
                )
            lapsed = store.lapse_free_codes(month)
            expired = store.unactivated_issuances(month, deadline)
            first, last = ban_months(month)
            banned = 0
            for issuance in expired:
                issuance.expired_at = now
                uow.add(issuance)
                if store.ban_for(issuance.patron_id, month) is None:
                    uow.add(
                        Ban(
                            patron_id=issuance.patron_id,
                            cause_month=str(month),
                            first_month=str(first),
                            last_month=str(last),
                            created_at=now,
                        )
                    )
                    banned += 1
            record = MonthClose(
                month=str(month),
                closed_at=now,
                actor=command.actor,
                lapsed=lapsed,
                expired=len(expired),
                banned=banned,
            )
            uow.add(record)
            undelivered = store.undelivered_count(month)
            store.audit(
                at=now,
                actor=command.actor,
                action="close-month",
                outcome="done",
                month=str(month),
                lapsed=lapsed,
                expired=len(expired),
                banned=banned,
                undelivered=undelivered,
            )
            log.info(
                "closed %s: %d lapsed, %d expired, %d banned, %d undelivered",
                month, lapsed, len(expired), banned, undelivered,
            )  # fmt: skip
            return _report(record, already_closed=False, undelivered=undelivered)
    except Conflict:
        # Another process closed the same month in the same instant; its close stands.
        with uow:
            done = uow.get(MonthClose, str(month))
            assert done is not None
            undelivered = uow.store.undelivered_count(month)
            return _report(done, already_closed=True, undelivered=undelivered)


def _report(record: MonthClose, *, already_closed: bool, undelivered: int) -> CloseReport:
    return CloseReport(
        month=Month.parse(record.month),
        closed_at=record.closed_at,
        already_closed=already_closed,
        lapsed=record.lapsed,
        expired=record.expired,
        banned=record.banned,
        undelivered=undelivered,
    )


@dataclass(frozen=True)
class CloseDueMonths(Command["list[CloseReport]"]):
    """Every ended month that is not closed yet; last month only from `close_at` on the 1st."""

    close_at: time
    actor: str = "scheduler"


def close_due_months(
    command: CloseDueMonths, *, uow: UnitOfWork, library: Library, now: datetime
) -> list[CloseReport]:
    """The scheduler's job. A daemon that was down at 00:05 closes the month when it starts;
    one that was down for longer closes every month it missed, oldest first."""
    calendar = library.calendar
    current = calendar.month_of(now)
    with uow:
        due = uow.store.months_with_codes_not_closed(before=current)
    if now < calendar.at(current.first_day, command.close_at):
        due = [month for month in due if month < current.plus(-1)]
    return [
        close_month(CloseMonth(month, actor=command.actor), uow=uow, library=library, now=now)
        for month in due
    ]
