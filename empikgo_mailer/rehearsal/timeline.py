"""How fast the demo's clock runs: slowly enough around each thing worth watching (a
mail arriving, midnight, a branch opening) to follow it, quickly across the quiet hours
between, and at real speed once the last of them has passed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from empikgo_mailer.domain.clock import Pace

WATCH_SPEED = 720.0  # an hour of library time in five seconds
QUIET = timedelta(hours=2)  # a longer stretch with nothing to watch is crossed quickly
CROSSING_SECONDS = 8.0  # how long, in real seconds, crossing a quiet stretch takes
LEAD = timedelta(minutes=5)  # watched before and after each event


def paces_for(start: datetime, events: Iterable[datetime]) -> list[Pace]:
    """The paces of a replayed clock that starts at `start` and shows every event: watch
    speed near them, a few seconds per quiet stretch, real time from LEAD after the last."""
    paces = [Pace(start, WATCH_SPEED)]
    last = start
    for event in sorted(events):
        if event - last > QUIET:
            quiet_from, quiet_to = last + LEAD, event - LEAD
            speed = (quiet_to - quiet_from).total_seconds() / CROSSING_SECONDS
            paces += [Pace(quiet_from, max(WATCH_SPEED, speed)), Pace(quiet_to, WATCH_SPEED)]
        last = max(last, event)
    paces.append(Pace(last + LEAD, 1.0))
    return paces


def real_time_from(paces: Sequence[Pace]) -> datetime:
    """The moment from which the clock keeps real time."""
    return paces[-1].since
