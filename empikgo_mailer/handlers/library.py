"""What handlers know about the library: its calendar, rules and branches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.config import BranchSettings, PlatformSettings, Settings
from empikgo_mailer.domain.calendar import HolidayCalendar, LibraryCalendar
from empikgo_mailer.domain.eligibility import Policy
from empikgo_mailer.domain.fines import Location
from empikgo_mailer.domain.month import Month
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

    @property
    def offered(self) -> tuple[Platform, ...]:
        """The platforms with a section in the configuration, in its order."""
        return tuple(self.platforms)

    def platform(self, platform_id: str) -> Platform:
        """An offered platform by its id, as staff type it or a file path names it."""
        wanted = platform_id.strip().lower()
        for platform in self.platforms:
            if platform.id == wanted:
                return platform
        known = ", ".join(p.id for p in self.platforms) or "brak — dodaj [platforms]"
        raise CommandRejected(f"Nieznana platforma „{platform_id}” (są: {known}).")

    def platform_enabled(self, platform: Platform) -> bool:
        """Rule 7, the configuration half: a platform the library never started this year,
        or does not offer at all. Staff's runtime switch (`service off`) is the other half,
        kept in the database."""
        settings = self.platforms.get(platform)
        return settings is not None and settings.enabled

    def activation_url(self, platform: Platform) -> str:
        settings = self.platforms.get(platform)
        return "" if settings is None else settings.activation_url

    def pool_branch(self, platform: Platform, branch_id: str | None) -> str | None:
        """The branch whose pool a code comes from: the branch's own, or the library's."""
        if platform.pooled_per_branch:
            if branch_id is None:
                raise CommandRejected(f"Kody {platform.name} należą do placówki: podaj --branch.")
            return self.branch(branch_id).id
        return None

    def expected_pools(self) -> list[tuple[Platform, str | None]]:
        """Every pool the library should load each month: one per branch for a platform
        pooled per branch, one for the whole library otherwise."""
        return [
            (platform, branch)
            for platform in self.offered
            for branch in (self.branches if platform.pooled_per_branch else (None,))
        ]

    def claims_open_at(self, platform: Platform, month: Month) -> datetime:
        return self.calendar.claims_open_at(platform.claims_open, month)

    def location(self, location_id: str) -> Location:
        try:
            return self.locations[location_id.strip().lower()]
        except KeyError:
            known = ", ".join(self.locations) or "brak — dodaj [locations] w konfiguracji"
            raise CommandRejected(f"Nieznana lokalizacja „{location_id}” (są: {known}).") from None
