"""What handlers know about the library: its calendar, rules and branches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from empikgo_mailer.config import BranchSettings, PlatformSettings, Settings
from empikgo_mailer.domain.calendar import HolidayCalendar, LibraryCalendar
from empikgo_mailer.domain.eligibility import Policy
from empikgo_mailer.domain.fines import Location
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.handlers.errors import CommandRejected


@dataclass(frozen=True)
class Library:
    calendar: LibraryCalendar
    policy: Policy
    platforms: Mapping[Platform, PlatformSettings]
    branches: Mapping[str, BranchSettings]
    locations: Mapping[str, Location]

    @classmethod
    def from_settings(cls, settings: Settings, holidays: HolidayCalendar) -> Library:
        return cls(
            calendar=LibraryCalendar(settings.timezone, holidays),
            policy=settings.policy,
            platforms=settings.platforms,
            branches=settings.branches,
            locations=settings.locations,
        )

    def branch(self, branch_id: str) -> BranchSettings:
        try:
            return self.branches[branch_id]
        except KeyError:
            known = ", ".join(self.branches)
            raise CommandRejected(f"Nieznana placówka „{branch_id}” (są: {known}).") from None

    def platform_enabled(self, platform: Platform) -> bool:
        """Rule 7, the configuration half: a platform the library never started this year.
        Staff's runtime switch (`service off`) is the other half, kept in the database."""
        return self.platforms[platform].enabled

    def pool_branch(self, platform: Platform, branch_id: str | None) -> str | None:
        """The branch whose pool a code comes from: Empik Go per branch, Legimi library-wide."""
        if platform.pooled_per_branch:
            if branch_id is None:
                raise CommandRejected("Kody Empik Go należą do placówki: podaj --branch.")
            return self.branch(branch_id).id
        return None

    def location(self, location_id: str) -> Location:
        try:
            return self.locations[location_id.strip().lower()]
        except KeyError:
            known = ", ".join(self.locations) or "brak — dodaj [locations] w konfiguracji"
            raise CommandRejected(f"Nieznana lokalizacja „{location_id}” (są: {known}).") from None
