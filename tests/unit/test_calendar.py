"""The library calendar: months in Warsaw time, holidays, opening hours, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from empikgo_mailer.adapters.holidays_pl import PolishHolidays
from empikgo_mailer.domain.calendar import LibraryCalendar, NaiveDatetime, OpeningHours
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform

WARSAW = ZoneInfo("Europe/Warsaw")
CALENDAR = LibraryCalendar(WARSAW, PolishHolidays())
WEEKDAYS_10_16 = OpeningHours({d: (time(10), time(16)) for d in range(5)})


def warsaw(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=WARSAW)


@pytest.mark.parametrize(
    ("day", "holiday"),
    [
        (date(2026, 11, 1), "Wszystkich Świętych"),
        (date(2026, 11, 11), "Narodowe Święto Niepodległości"),
        (date(2025, 12, 24), "Wigilia Bożego Narodzenia"),
        (date(2026, 12, 24), "Wigilia Bożego Narodzenia"),
        (date(2027, 1, 6), "Święto Trzech Króli"),
        (date(2026, 4, 6), "Wielkanoc"),
    ],
)
def test_polish_public_holidays(day: date, holiday: str) -> None:
    name = CALENDAR.holiday_name(day)
    assert name is not None and holiday.lower() in name.lower()
    assert not CALENDAR.is_working_day(day)


def test_christmas_eve_is_a_working_day_before_2025() -> None:
    assert CALENDAR.holiday_name(date(2024, 12, 24)) is None
    assert CALENDAR.is_working_day(date(2024, 12, 24))


@pytest.mark.parametrize(
    ("month", "first_working_day"),
    [
        (Month(2026, 11), date(2026, 11, 2)),  # the 1st is a Sunday and All Saints' Day
        (Month(2027, 1), date(2027, 1, 4)),  # Friday 1 January is a holiday, then a weekend
        (Month(2026, 8), date(2026, 8, 3)),  # Saturday 1 August
        (Month(2026, 12), date(2026, 12, 1)),
        (Month(2027, 5), date(2027, 5, 4)),  # Sat 1 May, Sun, Mon 3 May holiday
    ],
)
def test_first_working_day(month: Month, first_working_day: date) -> None:
    assert CALENDAR.first_working_day(month) == first_working_day


def test_legimi_opens_at_ten_on_the_first_working_day() -> None:
    assert CALENDAR.claims_open_at(Platform.LEGIMI.claims_open, Month(2027, 1)) == warsaw(
        2027, 1, 4, 10, 0
    )


def test_month_is_counted_in_warsaw_not_utc() -> None:
    # 23:00:01 UTC on 31 October is 00:00:01 on 1 November in Warsaw (CET, UTC+1).
    assert CALENDAR.month_of(datetime(2026, 10, 31, 23, 0, 1, tzinfo=UTC)) == Month(2026, 11)
    assert CALENDAR.month_of(datetime(2026, 10, 31, 22, 59, 59, tzinfo=UTC)) == Month(2026, 10)


def test_month_boundaries_are_local_midnights() -> None:
    assert CALENDAR.month_start(Month(2026, 11)) == warsaw(2026, 11, 1, 0, 0)
    assert CALENDAR.month_end(Month(2026, 12)) == warsaw(2027, 1, 1, 0, 0)


def test_naive_times_are_refused() -> None:
    with pytest.raises(NaiveDatetime):
        CALENDAR.month_of(datetime(2026, 11, 1, 0, 0))  # noqa: DTZ001


def test_branch_is_open_only_within_hours_on_working_days() -> None:
    assert not CALENDAR.is_open(WEEKDAYS_10_16, warsaw(2026, 11, 2, 9, 59, 59))
    assert CALENDAR.is_open(WEEKDAYS_10_16, warsaw(2026, 11, 2, 10, 0))
    assert CALENDAR.is_open(WEEKDAYS_10_16, warsaw(2026, 11, 2, 15, 59, 59))
    assert not CALENDAR.is_open(WEEKDAYS_10_16, warsaw(2026, 11, 2, 16, 0))
    assert not CALENDAR.is_open(WEEKDAYS_10_16, warsaw(2026, 11, 11, 12, 0))  # holiday
    assert not CALENDAR.is_open(WEEKDAYS_10_16, warsaw(2026, 11, 7, 12, 0))  # Saturday


def test_extra_closures_close_the_branch() -> None:
    hours = OpeningHours(WEEKDAYS_10_16.weekly, frozenset({date(2026, 11, 27)}))
    assert not CALENDAR.is_open(hours, warsaw(2026, 11, 27, 12, 0))
    assert CALENDAR.next_opening(hours, warsaw(2026, 11, 26, 17, 0)) == warsaw(2026, 11, 30, 10, 0)


def test_queue_from_sunday_holiday_first_is_answered_monday_at_ten() -> None:
    assert CALENDAR.next_opening(WEEKDAYS_10_16, warsaw(2026, 11, 1, 0, 0, 1)) == warsaw(
        2026, 11, 2, 10, 0
    )


def test_next_opening_is_now_when_open() -> None:
    at = warsaw(2026, 11, 3, 12, 30)
    assert CALENDAR.next_opening(WEEKDAYS_10_16, at) == at


def test_christmas_closures_roll_over_to_the_next_opening() -> None:
    # 24-26 December 2026 are holidays (Thu-Sat), then Sunday: open on Monday the 28th.
    assert CALENDAR.next_opening(WEEKDAYS_10_16, warsaw(2026, 12, 23, 16, 0)) == warsaw(
        2026, 12, 28, 10, 0
    )


def test_opening_hours_follow_wall_clock_across_spring_dst() -> None:
    # DST starts on Sunday 29 March 2026: Friday opens at 09:00 UTC, Monday at 08:00 UTC.
    friday = CALENDAR.opening_window(WEEKDAYS_10_16, date(2026, 3, 27))
    monday = CALENDAR.opening_window(WEEKDAYS_10_16, date(2026, 3, 30))
    assert friday is not None and monday is not None
    assert friday[0].astimezone(UTC).hour == 9
    assert monday[0].astimezone(UTC).hour == 8
    assert CALENDAR.next_opening(WEEKDAYS_10_16, warsaw(2026, 3, 27, 17, 0)) == monday[0]
    assert CALENDAR.is_open(WEEKDAYS_10_16, datetime(2026, 3, 30, 8, 0, tzinfo=UTC))
    assert not CALENDAR.is_open(WEEKDAYS_10_16, datetime(2026, 3, 30, 7, 59, tzinfo=UTC))


def test_opening_hours_follow_wall_clock_across_autumn_dst() -> None:
    # DST ends on Sunday 25 October 2026: Monday 26 October opens at 09:00 UTC.
    monday = CALENDAR.opening_window(WEEKDAYS_10_16, date(2026, 10, 26))
    assert monday is not None
    assert monday[0].astimezone(UTC) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert monday[1] - monday[0] == (warsaw(2026, 10, 26, 16) - warsaw(2026, 10, 26, 10))


def test_a_branch_that_never_opens_has_no_next_opening() -> None:
    assert CALENDAR.next_opening(OpeningHours({}), warsaw(2026, 11, 2, 9, 0)) is None


@pytest.mark.parametrize(
    ("paid", "posted_by"),
    [
        (date(2026, 11, 16), date(2026, 11, 19)),  # Monday: Thursday
        (date(2026, 11, 20), date(2026, 11, 25)),  # Friday: over the weekend
        (date(2026, 11, 10), date(2026, 11, 16)),  # Independence Day on the 11th
        (date(2026, 12, 23), date(2026, 12, 30)),  # Christmas Eve is a holiday from 2025
        (date(2027, 3, 26), date(2027, 4, 1)),  # Easter Monday 29 March 2027
    ],
)
def test_a_transfer_is_posted_within_three_working_days(paid: date, posted_by: date) -> None:
    assert CALENDAR.working_days_after(paid, 3) == posted_by
