"""The clock every loop and door is given, so that any moment can be replayed: standing
still (`--now`) or moving from a chosen moment at chosen speeds (`--from`, `--speed`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class FixedClock:
    """A moment standing still (`--now`): every reading gives it."""

    moment: datetime

    def __call__(self) -> datetime:
        return self.moment


@dataclass(frozen=True)
class Pace:
    """From the moment `since` (as the replayed clock shows it) on, the clock runs `speed`
    times as fast as real time."""

    since: datetime
    speed: float

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("a replayed clock's speed must be above zero")


class _Leg(NamedTuple):
    """Where one pace of a replayed clock begins, on both time lines."""

    shown: datetime
    real: datetime
    speed: float


class ReplayedClock:
    """Shows `start` at the real instant `anchor`, then moves at its paces: e.g. an hour
    of library time per five seconds through a night, then real time once every branch
    has opened. Several processes given the same start, paces and anchor show the same
    moment, so a daemon and a console rehearse one morning together.

    Calling it gives the moment shown now, in `start`'s zone, like any Clock; the real
    seconds until a shown moment are what a loop waits for it (`real_seconds_until`).
    `real` is the system clock (injected: nothing in the domain reads it)."""

    def __init__(
        self,
        start: datetime,
        paces: Sequence[Pace],
        *,
        anchor: datetime,
        real: Clock,
    ) -> None:
        if start.tzinfo is None or anchor.tzinfo is None:
            raise ValueError("a replayed clock needs aware moments")
        ordered = sorted(paces, key=lambda pace: pace.since)
        if not ordered or ordered[0].since > start:
            ordered.insert(0, Pace(start, 1.0))
        self._legs: list[_Leg] = []
        shown, at, speed = start, anchor, 1.0
        for pace in ordered:
            if pace.since > shown:
                at += (pace.since - shown) / speed
                shown = pace.since
            speed = pace.speed
            if self._legs and self._legs[-1].shown == shown:
                self._legs.pop()  # two paces from one moment: the later one counts
            self._legs.append(_Leg(shown, at, speed))
        self.start, self.anchor, self.real = start, anchor, real
        self.zone = start.tzinfo

    def __call__(self) -> datetime:
        return self.shown_at(self.real())

    def _leg(self, moment: datetime, on: Callable[[_Leg], datetime]) -> _Leg:
        """The leg in force at `moment` on one time line (`on` reads a leg's start there)."""
        found = self._legs[0]
        for leg in self._legs[1:]:
            if on(leg) > moment:
                break
            found = leg
        return found

    def shown_at(self, real: datetime) -> datetime:
        """The moment shown at the real instant `real` (before the anchor: the start)."""
        shown, at, speed = self._leg(real, on=lambda leg: leg.real)
        return (shown + max(real - at, timedelta(0)) * speed).astimezone(self.zone)

    def real_at(self, shown: datetime) -> datetime:
        """The real instant at which the clock shows `shown` (the anchor, if earlier)."""
        at_shown, at, speed = self._leg(shown, on=lambda leg: leg.shown)
        return at + max(shown - at_shown, timedelta(0)) / speed

    def real_seconds_until(self, shown: datetime) -> float:
        return (self.real_at(shown) - self.real()).total_seconds()


def is_rehearsal(clock: Clock) -> bool:
    """Whether `clock` shows a chosen moment rather than the present (staff are told)."""
    return isinstance(clock, FixedClock | ReplayedClock)


def real_clock_of(clock: Clock) -> Clock:
    """The clock that real-time limits (a staff session's idle time, login attempts) are
    measured by: a replayed clock's real one, which does not rush them through."""
    return clock.real if isinstance(clock, ReplayedClock) else clock


def real_seconds_until(clock: Clock, moment: datetime) -> float:
    """How long a loop driven by `clock` waits, in real seconds, until it shows `moment`."""
    if isinstance(clock, ReplayedClock):
        return clock.real_seconds_until(moment)
    return (moment - clock()).total_seconds()
