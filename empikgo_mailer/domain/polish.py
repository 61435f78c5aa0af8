"""Polish words for dates, months and amounts, shared by every message people read."""

from __future__ import annotations

from datetime import date, datetime

from empikgo_mailer.domain.month import Month

MONTHS_NOMINATIVE = (
    "styczeń",
    "luty",
    "marzec",
    "kwiecień",
    "maj",
    "czerwiec",
    "lipiec",
    "sierpień",
    "wrzesień",
    "październik",
    "listopad",
    "grudzień",
)
MONTHS_GENITIVE = (
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
)

MONTHS_LOCATIVE = (
    "styczniu",
    "lutym",
    "marcu",
    "kwietniu",
    "maju",
    "czerwcu",
    "lipcu",
    "sierpniu",
    "wrześniu",
    "październiku",
    "listopadzie",
    "grudniu",
)


def month_locative(month: Month) -> str:
    """'listopadzie 2026', as in 'w listopadzie 2026'"""
    return f"{MONTHS_LOCATIVE[month.month - 1]} {month.year}"


def month_name(month: Month) -> str:
    """'listopad 2026'"""
    return f"{MONTHS_NOMINATIVE[month.month - 1]} {month.year}"


def month_genitive(month: Month) -> str:
    """'listopada 2026', as in 'do końca listopada 2026'"""
    return f"{MONTHS_GENITIVE[month.month - 1]} {month.year}"


def days_text(count: int) -> str:
    """'1 dzień', '5 dni'."""
    return "1 dzień" if count == 1 else f"{count} dni"


def day_text(day: date) -> str:
    """'2 listopada 2026'"""
    return f"{day.day} {MONTHS_GENITIVE[day.month - 1]} {day.year}"


def moment_text(at: datetime) -> str:
    """'2 listopada 2026, godz. 10:00' (the caller passes a local time)."""
    return f"{day_text(at.date())}, godz. {at:%H:%M}"


def age_text(seconds: float) -> str:
    """'40 s', '12 min', '3 godz. 5 min', '2 dni 4 godz.': how long something has waited."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} godz. {minutes} min" if minutes else f"{hours} godz."
    days, hours = divmod(hours, 24)
    return f"{days_text(days)} {hours} godz." if hours else days_text(days)


def count_text(count: int, one: str, few: str, many: str) -> str:
    """'1 kod', '4 kody', '5 kodów', '22 kody', '12 kodów': the noun in the form Polish
    gives it after the number."""
    if count == 1:
        return f"1 {one}"
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return f"{count} {few}"
    return f"{count} {many}"
