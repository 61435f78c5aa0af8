"""The e-book platforms: one table of what each one is, and the ways a code reaches a reader.

Everything else reads this table. Empik Go and Legimi are built in; another platform
(IBUK Libra, Storytel ...) is a `[platforms.<id>]` section in the configuration, which
builds a `Platform` row of its own. A platform without a section is not offered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import ClassVar

PLATFORM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,15}$")  # stored in VARCHAR(16) columns


class Channel(StrEnum):
    EMAIL = "email"
    DESK = "desk"
    SELF_SERVICE = "self-service"


class PoolScope(StrEnum):
    """Whose pool a code comes from."""

    BRANCH = "branch"  # each branch buys and hands out its own codes
    LIBRARY = "library"  # one pool for the whole library


class OpeningDay(StrEnum):
    FIRST_DAY = "first-day"  # the 1st of the month
    FIRST_WORKING_DAY = "first-working-day"  # not a weekend or a public holiday


@dataclass(frozen=True)
class ClaimsOpen:
    """When a month's codes may first be given: a time on the month's first (working) day."""

    day: OpeningDay
    at: time

    def __str__(self) -> str:
        return f"{self.day.value} {self.at:%H:%M}"

    @classmethod
    def parse(cls, text: str) -> ClaimsOpen:
        """'first-working-day 10:00' or 'first-day 00:00'; ValueError with a Polish message."""
        parts = text.split()
        days = ", ".join(day.value for day in OpeningDay)
        if len(parts) != 2 or parts[0] not in OpeningDay.__members__.values():
            raise ValueError(f"oczekiwano „DZIEŃ GG:MM”, gdzie DZIEŃ to: {days}")
        try:
            at = time.fromisoformat(parts[1])
        except ValueError:
            raise ValueError(f"niepoprawna godzina: {parts[1]!r}") from None
        return cls(OpeningDay(parts[0]), at)


@dataclass(frozen=True, eq=False)
class Platform:
    """One row of the table. Two rows are the same platform when their ids are equal: the
    id is what the database stores."""

    id: str
    name: str  # as readers and staff see it
    pool: PoolScope
    claims_open: ClaimsOpen
    # Besides the desk, where every platform can be given: how readers ask by themselves.
    readers_claim: tuple[Channel, ...] = field(default=())

    EMPIK_GO: ClassVar[Platform]
    LEGIMI: ClassVar[Platform]

    def __post_init__(self) -> None:
        if not PLATFORM_ID.match(self.id):
            raise ValueError(f"niepoprawny identyfikator platformy: {self.id!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Platform) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __lt__(self, other: Platform) -> bool:
        return self.id < other.id

    def __str__(self) -> str:
        return self.id

    @property
    def value(self) -> str:
        """The text stored in the database (as the enum this table replaced called it)."""
        return self.id

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def pooled_per_branch(self) -> bool:
        return self.pool is PoolScope.BRANCH

    @classmethod
    def unknown(cls, platform_id: str) -> Platform:
        """A platform found in stored rows but no longer configured: shown by its id."""
        return cls(
            platform_id, platform_id, PoolScope.LIBRARY, ClaimsOpen(OpeningDay.FIRST_DAY, time())
        )


Platform.EMPIK_GO = Platform(
    "empik-go",
    "Empik Go",
    PoolScope.BRANCH,
    # Mail counts from 00:00 on the 1st; branches answer it during their opening hours.
    ClaimsOpen(OpeningDay.FIRST_DAY, time(0, 0)),
    readers_claim=(Channel.EMAIL,),
)
Platform.LEGIMI = Platform(
    "legimi",
    "Legimi",
    PoolScope.LIBRARY,
    ClaimsOpen(OpeningDay.FIRST_WORKING_DAY, time(10, 0)),
    readers_claim=(Channel.SELF_SERVICE,),
)
BUILT_IN: dict[str, Platform] = {p.id: p for p in (Platform.EMPIK_GO, Platform.LEGIMI)}


def platform_by_id(platform_id: str, known: Iterable[Platform]) -> Platform:
    """The row for a stored id: a configured platform, a built-in one, or an unknown one."""
    for platform in known:
        if platform.id == platform_id:
            return platform
    return BUILT_IN.get(platform_id) or Platform.unknown(platform_id)
