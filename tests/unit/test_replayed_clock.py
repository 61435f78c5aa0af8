"""A replayed clock that moves: from a chosen moment, at chosen paces, the same in every
process given the same anchor; and the demo's timeline built on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from empikgo_mailer.domain.clock import (
    FixedClock,
    Pace,
    ReplayedClock,
    is_rehearsal,
    real_clock_of,
    real_seconds_until,
)
from empikgo_mailer.rehearsal.timeline import WATCH_SPEED, paces_for, real_time_from

WARSAW = ZoneInfo("Europe/Warsaw")
ANCHOR = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)  # any real instant: nothing reads today
START = datetime(2027, 2, 28, 23, 55, tzinfo=WARSAW)


class Wall:
    """The real clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_it_shows_the_start_at_the_anchor_then_runs_at_its_paces() -> None:
    wall = Wall(ANCHOR)
    clock = ReplayedClock(
        START,
        [Pace(START, 720), Pace(START + timedelta(hours=1), 1.0)],
        anchor=ANCHOR,
        real=wall,
    )
    assert clock() == START
    wall.at = ANCHOR + timedelta(seconds=5)  # an hour in five seconds
    assert clock() == START + timedelta(hours=1)
    wall.at += timedelta(seconds=30)  # then real time
    assert clock() == START + timedelta(hours=1, seconds=30)
    assert clock().tzinfo == WARSAW


def test_before_its_anchor_it_stands_at_the_start() -> None:
    clock = ReplayedClock(
        START, [Pace(START, 100)], anchor=ANCHOR, real=Wall(ANCHOR - timedelta(minutes=1))
    )
    assert clock() == START


def test_real_instants_and_shown_moments_are_each_others_inverse() -> None:
    paces = [
        Pace(START, 720),
        Pace(START + timedelta(hours=2), 9000),
        Pace(START + timedelta(days=2), 1),
    ]
    clock = ReplayedClock(START, paces, anchor=ANCHOR, real=Wall(ANCHOR))
    for shown in (
        START,
        START + timedelta(minutes=7),
        START + timedelta(hours=30),
        START + timedelta(days=3),
    ):
        # (to the microsecond of real time, which a fast pace stretches)
        assert abs(clock.shown_at(clock.real_at(shown)) - shown) < timedelta(milliseconds=10)
    # The loop that waits for a moment waits the real seconds the paces give.
    assert real_seconds_until(clock, START + timedelta(hours=1)) == pytest.approx(5)
    assert real_seconds_until(clock, START + timedelta(hours=2, minutes=150)) == pytest.approx(11)


def test_a_clock_without_paces_keeps_real_time_from_its_start() -> None:
    clock = ReplayedClock(START, [], anchor=ANCHOR, real=Wall(ANCHOR + timedelta(minutes=3)))
    assert clock() == START + timedelta(minutes=3)


def test_the_speed_must_be_above_zero() -> None:
    with pytest.raises(ValueError, match="above zero"):
        Pace(START, 0)


def test_real_time_limits_use_the_real_clock_of_a_replay_only() -> None:
    wall = Wall(ANCHOR)
    replay = ReplayedClock(START, [Pace(START, 720)], anchor=ANCHOR, real=wall)
    fixed = FixedClock(START)
    assert real_clock_of(replay) is wall
    assert real_clock_of(fixed) is fixed
    assert is_rehearsal(replay) and is_rehearsal(fixed)
    assert not is_rehearsal(wall)


def test_the_demo_watches_the_events_crosses_the_quiet_hours_and_ends_in_real_time() -> None:
    midnight = datetime(2027, 3, 1, tzinfo=WARSAW)
    arrivals = [midnight + timedelta(minutes=m) for m in (-2, 0, 3, 44, 130)]
    openings = [datetime(2027, 3, 1, 10, tzinfo=WARSAW), datetime(2027, 3, 1, 12, tzinfo=WARSAW)]
    start = midnight - timedelta(minutes=7)
    paces = paces_for(start, [midnight, *arrivals, *openings])
    clock = ReplayedClock(start, paces, anchor=ANCHOR, real=Wall(ANCHOR))
    assert paces[0] == Pace(start, WATCH_SPEED)
    assert real_time_from(paces) == openings[-1] + timedelta(minutes=5)
    # The night's mail at an hour per five seconds; the quiet night in seconds; the two
    # openings two hours apart at watching speed again; all of it within a minute.
    assert clock.real_at(arrivals[-1]) - ANCHOR == timedelta(seconds=(130 + 7) * 5 / 60)
    through = clock.real_at(real_time_from(paces)) - ANCHOR
    assert timedelta(seconds=25) < through < timedelta(seconds=60)
    assert clock.real_at(openings[1]) - clock.real_at(openings[0]) == timedelta(seconds=10)


def test_a_long_weekend_before_the_first_opening_is_crossed_as_fast() -> None:
    midnight = datetime(2027, 5, 1, tzinfo=WARSAW)  # Saturday, Sunday, 3 May: opens on the 4th
    opening = datetime(2027, 5, 4, 10, tzinfo=WARSAW)
    start = midnight - timedelta(minutes=5)
    paces = paces_for(start, [midnight, opening])
    clock = ReplayedClock(start, paces, anchor=ANCHOR, real=Wall(ANCHOR))
    assert clock.real_at(opening) - ANCHOR < timedelta(seconds=12)
