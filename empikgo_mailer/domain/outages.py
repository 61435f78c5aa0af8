"""Outages told once: what to say when a link (the database, a branch mailbox, the SMTP
server) fails again and again, pass after pass, and when it works again.

An outage is said when it begins, then as a reminder after 1, 5, 15 and every 60 minutes
(a log that shows a long outage, not one line a second), once more for each new kind of
error in it, and once when the link works again, with how long it lasted. Pure: the
caller logs what it is told (`entrypoints/outage_log`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

# After the first line, a reminder this long into the outage, then every last step.
REMINDERS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=60),
)


class Notice(StrEnum):
    BEGAN = "began"  # the first failure after the link worked (or since start)
    STILL = "still"  # a reminder, or a new kind of error within the outage
    ENDED = "ended"  # the link worked again


@dataclass(frozen=True)
class Said:
    notice: Notice
    link: str
    error: str  # the failure's one-line summary ("" when ENDED)
    lasted: timedelta  # from the outage's first failure to now
    failures: int  # failures counted in the outage so far
    first_of_kind: bool  # the first failure of this kind in the outage (BEGAN, a new kind)


@dataclass
class _Outage:
    began: datetime
    failures: int = 1
    kinds: set[str] = field(default_factory=set)
    reminders: int = 0  # reminders said so far


class Outages:
    """The outages of one process's links. Not thread-safe: the caller holds a lock."""

    def __init__(self, reminders: tuple[timedelta, ...] = REMINDERS) -> None:
        self.reminders = reminders
        self._open: dict[str, _Outage] = {}

    def down(self, link: str) -> bool:
        return link in self._open

    def failed(self, link: str, now: datetime, kind: str, error: str) -> Said | None:
        """A failure of `link` (`kind`: the error's type, say); what to say, if anything."""
        outage = self._open.get(link)
        if outage is None:
            self._open[link] = _Outage(now, kinds={kind})
            return Said(Notice.BEGAN, link, error, timedelta(0), 1, first_of_kind=True)
        outage.failures += 1
        lasted = now - outage.began
        if kind not in outage.kinds:
            outage.kinds.add(kind)
            return Said(Notice.STILL, link, error, lasted, outage.failures, first_of_kind=True)
        if lasted >= self._due(outage.reminders):
            outage.reminders += 1
            return Said(Notice.STILL, link, error, lasted, outage.failures, first_of_kind=False)
        return None

    def worked(self, link: str, now: datetime) -> Said | None:
        """`link` worked; what to say when that ends an outage."""
        outage = self._open.pop(link, None)
        if outage is None:
            return None
        return Said(
            Notice.ENDED, link, "", now - outage.began, outage.failures, first_of_kind=False
        )

    def _due(self, said: int) -> timedelta:
        """How far into the outage the reminder after `said` reminders comes."""
        if said < len(self.reminders):
            return self.reminders[said]
        last = self.reminders[-1]
        return last * (said - len(self.reminders) + 2)
