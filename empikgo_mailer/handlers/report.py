"""The monthly report for the library's reading-programme grant: per platform and branch,
what was loaded, given, activated, lost, refused and how long readers waited."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from empikgo_mailer.adapters.report_queries import PoolFigures, PoolKey
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel
from empikgo_mailer.domain.report import MonthReport, PoolReport
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.library import Library


@dataclass(frozen=True)
class ShowMonthReport(Command["MonthReport"]):
    month: Month


def month_report(
    query: ShowMonthReport, *, uow: UnitOfWork, library: Library, now: datetime
) -> MonthReport:
    calendar, month = library.calendar, query.month
    today = calendar.today(now)
    days = [day for day in month.days() if day <= today]  # the days that have happened
    start, end = calendar.month_start(month), calendar.month_end(month)
    with uow:
        queries = uow.reports
        figures = queries.count(month, start, end)
        closed_at = queries.closed_at(month)
    expected: list[PoolKey] = library.expected_pools()
    keys = expected + sorted(
        (key for key in figures if key not in expected), key=lambda k: (k[0], k[1] or "")
    )
    pools = tuple(
        _pool_report(key, figures.get(key) or PoolFigures(), days, library) for key in keys
    )
    return MonthReport(month, closed_at, pools)


def _pool_report(
    key: PoolKey, figures: PoolFigures, days: list[date], library: Library
) -> PoolReport:
    per_day = Counter(library.calendar.today(at) for at in figures.issued_at)
    waits = sorted(figures.waits)
    return PoolReport(
        platform=key[0],
        branch_id=key[1],
        loaded=figures.loaded,
        given={channel: figures.given.get(channel.value, 0) for channel in Channel},
        activated=figures.activated,
        expired=figures.expired,
        lapsed=figures.lapsed,
        banned=figures.banned,
        refused=dict(sorted(figures.refused.items())),
        median_wait=_median(waits),
        longest_wait=waits[-1] if waits else None,
        given_per_day=tuple((day, per_day.get(day, 0)) for day in days),
    )


def _median(ordered: list[timedelta]) -> timedelta | None:
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class BannedReader:
    card_number: str
    name: str
    first: Month
    last: Month
    lifted: bool


@dataclass(frozen=True)
class ShowMonthBans(Command["list[BannedReader]"]):
    """Readers banned for a code of `month` they never activated."""

    month: Month


def month_bans(query: ShowMonthBans, *, uow: UnitOfWork) -> list[BannedReader]:
    with uow:
        rows = uow.store.bans_caused_in(query.month)
        return [
            BannedReader(
                card_number=patron.card_number,
                name=f"{patron.first_name} {patron.last_name}",
                first=Month.parse(ban.first_month),
                last=Month.parse(ban.last_month),
                lifted=ban.lifted_at is not None,
            )
            for ban, patron in rows
        ]
