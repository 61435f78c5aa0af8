"""The e-book platforms and the ways a code reaches a reader."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    EMPIK_GO = "empik-go"
    LEGIMI = "legimi"

    @property
    def pooled_per_branch(self) -> bool:
        """Empik Go pools belong to a branch; the Legimi pool to the whole library."""
        return self is Platform.EMPIK_GO

    @property
    def display_name(self) -> str:
        return {Platform.EMPIK_GO: "Empik Go", Platform.LEGIMI: "Legimi"}[self]


class Channel(StrEnum):
    EMAIL = "email"
    DESK = "desk"
    SELF_SERVICE = "self-service"
