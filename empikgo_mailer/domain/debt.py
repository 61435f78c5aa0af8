"""Rule 4, "no debt": the one place that decides whether a patron owes the library."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DebtFacts:
    """The outstanding balance over every location, and whether the account is blocked."""

    outstanding_grosze: int
    blocked: bool = False
    explanation: str | None = None


def has_debt(debt: DebtFacts) -> bool:
    return debt.outstanding_grosze > 0 or debt.blocked
