"""A calendar month, the unit in which pools, limits and bans are counted."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from empikgo_mailer.domain.errors import BadInput

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class InvalidMonth(BadInput):
    """A text that does not name a calendar month as YYYY-MM."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise InvalidMonth(f"month number out of range: {self.month}")
        if not 1 <= self.year <= 9999:
            raise InvalidMonth(f"year out of range: {self.year}")

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH_RE.match(text.strip())
        if match is None:
            raise InvalidMonth(f"not a YYYY-MM month: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def days(self) -> list[date]:
        return [date(self.year, self.month, d) for d in range(1, self.last_day.day + 1)]

    def plus(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)
