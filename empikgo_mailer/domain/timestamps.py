"""Reading the moments that platforms' panels export, in the formats they actually use."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from empikgo_mailer.domain.errors import BadInput

# Day-first forms are the Polish panels' (31.03.2027 23:59, also with / or -); ISO is
# everyone else's. Slashes are read day first, so a US date such as 03/31/2027 is refused
# as impossible rather than guessed.
_DAY_FIRST = re.compile(
    r"^(?P<d>\d{1,2})[./-](?P<m>\d{1,2})[./-](?P<y>\d{4})"
    r"(?:[ T,]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)
_YEAR_FIRST_SLASHES = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(.*)$")


class InvalidMoment(BadInput):
    """Not a date and time this program understands; the message is Polish."""


def _parsed(text: str) -> datetime | None:
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise InvalidMoment("brak daty")
    slashes = _YEAR_FIRST_SLASHES.match(cleaned)
    if slashes:
        year, month, day, rest = slashes.groups()
        cleaned = f"{year}-{int(month):02d}-{int(day):02d}{rest}"
    return _day_first(cleaned) or _iso(cleaned)


def parse_moment(text: str, zone: ZoneInfo) -> datetime:
    """An aware datetime from ISO 8601 or `DD.MM.YYYY [HH:MM[:SS]]` (also with / or -).

    A time without a zone is the library's wall clock; a date alone is its first minute.
    """
    parsed = _parsed(text)
    if parsed is None:
        raise InvalidMoment(
            f"„{text.strip()}” to nie jest data (np. 2027-03-31 23:59 albo 31.03.2027 23:59)"
        )
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=zone)
    return parsed.astimezone(zone)


def parse_day(text: str) -> date:
    """A calendar day from `2027-03-31` or `31.03.2027` (also with / or -); a time of day
    that some exports append is ignored."""
    parsed = _parsed(text)
    if parsed is None:
        raise InvalidMoment(f"„{text.strip()}” to nie jest data (np. 2027-03-31 albo 31.03.2027)")
    return parsed.date()


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    except ValueError:
        return None


def _day_first(text: str) -> datetime | None:
    match = _DAY_FIRST.match(text)
    if match is None:
        return None
    try:
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
        wall = time(int(match["H"] or 0), int(match["M"] or 0), int(match["S"] or 0))
    except ValueError:
        return None
    return datetime.combine(day, wall)
