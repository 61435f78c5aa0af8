"""The library's calendar: its time zone, months, holidays and branch opening hours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from empikgo_mailer.domain.errors import ProgramError
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import ClaimsOpen, OpeningDay

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class NaiveDatetime(ProgramError, ValueError):
    """A datetime without a time zone reached the rules."""


class HolidayCalendar(Protocol):
    """Tells public holidays; the adapter behind it knows the country's law."""

    def holiday_name(self, day: date) -> str | None: ...


@dataclass(frozen=True)
class OpeningHours:
    """Wall-clock hours per weekday (0 = Monday) and dates the branch is closed anyway."""

    weekly: Mapping[int, tuple[time, time]]
    closures: frozenset[date] = field(default_factory=frozenset)


@dataclass(frozen=True)
class LibraryCalendar:
    zone: ZoneInfo
    holidays: HolidayCalendar

    def local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise NaiveDatetime(f"a time without a zone: {at.isoformat()}")
        return at.astimezone(self.zone)

    def at(self, day: date, wall: time) -> datetime:
        """The instant the library's clocks show `wall` on `day` (DST-aware)."""
        return datetime.combine(day, wall, tzinfo=self.zone)

    def today(self, at: datetime) -> date:
        return self.local(at).date()

    def month_of(self, at: datetime) -> Month:
        return Month.of(self.today(at))

    def month_start(self, month: Month) -> datetime:
        return self.at(month.first_day, time(0, 0))

    def month_end(self, month: Month) -> datetime:
        """The first instant after the month: 00:00 on the 1st of the next one."""
        return self.month_start(month.plus(1))

    def holiday_name(self, day: date) -> str | None:
        return self.holidays.holiday_name(day)

    def is_working_day(self, day: date) -> bool:
        """Not a Saturday, a Sunday or a public holiday."""
        return day.weekday() < 5 and self.holiday_name(day) is None

    def working_days_after(self, day: date, count: int) -> date:
        """The `count`-th working day after `day`: when a bank transfer should be posted."""
        for _ in range(count):
            day += timedelta(days=1)
            while not self.is_working_day(day):
                day += timedelta(days=1)
        return day

    def first_working_day(self, month: Month) -> date:
        return next(day for day in month.days() if self.is_working_day(day))

    def claims_open_at(self, rule: ClaimsOpen, month: Month) -> datetime:
        """When `month`'s codes of a platform opening by `rule` may first be given."""
        day = month.first_day if rule.day is OpeningDay.FIRST_DAY else self.first_working_day(month)
        return self.at(day, rule.at)

    def opening_window(self, hours: OpeningHours, day: date) -> tuple[datetime, datetime] | None:
        """When a branch is open on `day`, or None when it is closed all day."""
        if day in hours.closures or self.holiday_name(day) is not None:
            return None
        span = hours.weekly.get(day.weekday())
        if span is None:
            return None
        return self.at(day, span[0]), self.at(day, span[1])

    def is_open(self, hours: OpeningHours, at: datetime) -> bool:
        window = self.opening_window(hours, self.today(at))
        return window is not None and window[0] <= at < window[1]

    def next_opening(self, hours: OpeningHours, after: datetime) -> datetime | None:
        """The branch is open at the returned instant: `after` itself when open, else the
        next opening within a year (None when the branch never opens)."""
        day = self.today(after)
        for offset in range(367):
            window = self.opening_window(hours, day + timedelta(days=offset))
            if window is None:
                continue
            if after < window[1]:
                return max(after, window[0])
        return None
