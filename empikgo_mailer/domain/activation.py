"""Activation deadlines and the 3-month ban (RULES.md section 3)."""

from __future__ import annotations

from datetime import datetime

from empikgo_mailer.domain.month import Month

BAN_MONTHS = 3


def activated_in_time(activated_at: datetime | None, deadline: datetime) -> bool:
    """`deadline` is the first instant after the month the code was given in."""
    return activated_at is not None and activated_at < deadline


def ban_months(cause: Month) -> tuple[Month, Month]:
    """The first and last month of the ban for a code of `cause` left unactivated."""
    return cause.plus(1), cause.plus(BAN_MONTHS)
