"""Switching a platform's service off and on at run time (rule 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.library import Library

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class SwitchService(Command[bool]):
    platform: Platform
    enabled: bool
    reason: str | None = None
    actor: str = "system"


@dataclass(frozen=True)
class ServiceState:
    platform: Platform
    on: bool
    configured: bool  # false: `enabled = false` in the configuration
    switched_off_reason: str | None
    changed_at: datetime | None
    actor: str | None


def switch_service(command: SwitchService, *, uow: UnitOfWork, now: datetime) -> bool:
    """While off, every door refuses: mail gets the "service suspended" reply, the desk and
    the catalogue get a refusal. Switching it on again resumes from the same pools.

    True when something changed. A switch to the state the service is already in (off
    again with the same reason, on again) changes nothing and is not audited: a form sent
    twice, or a scanner, would otherwise fill the trail with rows that say nothing."""
    reason = (command.reason or "").strip()[:MAX_REASON_LENGTH] or None
    wanted_reason = None if command.enabled else reason
    with uow:
        store = uow.store
        switch = store.service_switches().get(command.platform)
        enabled, stored_reason = (True, None) if switch is None else (switch.enabled, switch.reason)
        if (enabled, stored_reason) == (command.enabled, wanted_reason):
            return False
        store.switch_service(
            command.platform,
            enabled=command.enabled,
            reason=wanted_reason,
            actor=command.actor,
            at=now,
        )
        store.audit(
            at=now,
            actor=command.actor,
            action="service-on" if command.enabled else "service-off",
            outcome="done",
            platform=command.platform.value,
            reason=reason,
        )
        return True


@dataclass(frozen=True)
class ShowServices(Command[list[ServiceState]]):
    """Whether each offered platform is on, and who switched it off and why."""


def service_states(query: ShowServices, *, uow: UnitOfWork, library: Library) -> list[ServiceState]:
    with uow:
        switches = uow.store.service_switches()
    states = []
    for platform in library.offered:
        switch = switches.get(platform)
        switched_on = switch is None or switch.enabled
        configured = library.platform_enabled(platform)
        states.append(
            ServiceState(
                platform=platform,
                on=configured and switched_on,
                configured=configured,
                switched_off_reason=None if switch is None or switch.enabled else switch.reason,
                changed_at=None if switch is None else switch.changed_at,
                actor=None if switch is None else switch.actor,
            )
        )
    return states
