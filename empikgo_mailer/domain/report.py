"""The monthly report's rows: per platform and place, what was loaded, given, activated,
lost and refused, and how long readers waited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform


@dataclass(frozen=True)
class PoolReport:
    platform: Platform
    branch_id: str | None  # None: the library-wide Legimi pool
    loaded: int
    given: dict[Channel, int]
    activated: int
    expired: int
    lapsed: int
    banned: int
    refused: dict[str, int]  # reason or e-mail outcome -> count
    median_wait: timedelta | None  # e-mail requests: receipt to reply
    longest_wait: timedelta | None
    # Each day of the month that has happened (every day, once the month is over): a chart
    # draws no figures for days still to come.
    given_per_day: tuple[tuple[date, int], ...]

    @property
    def given_total(self) -> int:
        return sum(self.given.values())


@dataclass(frozen=True)
class MonthReport:
    month: Month
    closed_at: datetime | None  # None: expiries and lapses are not counted yet
    pools: tuple[PoolReport, ...]


def place_name(pool: PoolReport, branch_names: dict[str, str]) -> str:
    if pool.branch_id is None:
        return "cała biblioteka"
    return branch_names.get(pool.branch_id, pool.branch_id)
