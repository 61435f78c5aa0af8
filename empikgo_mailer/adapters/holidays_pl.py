"""Polish public holidays from the `holidays` package (24 December counts from 2025)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

import holidays


@lru_cache(maxsize=64)
def _year(year: int) -> Any:
    return holidays.country_holidays("PL", years=year, language="pl")


@lru_cache(maxsize=1024)
def _holiday_name(day: date) -> str | None:
    # Asked before every decision (is the branch open now?): the package's own lookup
    # costs tens of microseconds, a cached day one.
    name = _year(day.year).get(day)
    return str(name) if name is not None else None


class PolishHolidays:
    def holiday_name(self, day: date) -> str | None:
        return _holiday_name(day)
