"""Staff accounts: who may see and do what, and when a login is refused for a while."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# OWASP's advice, as the issue set it: 5 failures in 15 minutes lock for 15 minutes.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


class Role(StrEnum):
    LIBRARIAN = "librarian"  # one branch
    HEAD = "head"  # every branch, pools, the service switch, reports
    ADMIN = "admin"  # everything, accounts and the audit log

    @property
    def label(self) -> str:
        return {"librarian": "bibliotekarz", "head": "kierownik", "admin": "administrator"}[
            self.value
        ]


@dataclass(frozen=True)
class StaffMember:
    login: str
    role: Role
    branch_id: str | None  # a librarian's branch; None for the others

    def sees_branch(self, branch_id: str) -> bool:
        return self.role is not Role.LIBRARIAN or self.branch_id == branch_id


def locked_until(failures: Iterable[datetime], now: datetime) -> datetime | None:
    """When logins are allowed again after MAX_FAILURES failures within FAILURE_WINDOW
    (counted for a login, or for an address), or None when they are allowed now."""
    recent = sorted(at for at in failures if now - at < FAILURE_WINDOW + LOCKOUT)
    for start in range(len(recent) - MAX_FAILURES + 1):
        window = recent[start : start + MAX_FAILURES]
        if window[-1] - window[0] < FAILURE_WINDOW:
            until = window[-1] + LOCKOUT
            if now < until:
                return until
    return None


def password_problem(password: str) -> str | None:
    """Why a new password is refused (Polish), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"hasło musi mieć co najmniej {MIN_PASSWORD_LENGTH} znaków"
    if password.strip() != password:
        return "hasło nie może zaczynać się ani kończyć spacją"
    return None
