"""Polish public holidays from the `holidays` package (24 December counts from 2025)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

import holidays


@lru_cache(maxsize=64)
def _year(year: int) -> Any:
    return holidays.country_holidays("PL", years=year, language="pl")


class PolishHolidays:
    def holiday_name(self, day: date) -> str | None:
        name = _year(day.year).get(day)
        return str(name) if name is not None else None
