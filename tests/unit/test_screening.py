"""Screening before a mail decision: each reason alone, and their order."""

from __future__ import annotations

import dataclasses

import pytest

from empikgo_mailer.domain.mail_outcomes import MailOutcome
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.screening import MailFacts, screen

NOVEMBER = Month(2026, 11)
FINE = MailFacts(
    sender="jan@example.com", replies_today=0, too_large=False, written_in=NOVEMBER, card="1"
)


def screened(**changes: object) -> MailOutcome | None:
    return screen(dataclasses.replace(FINE, **changes), month=NOVEMBER, daily_limit=3)  # type: ignore[arg-type]


def test_a_readable_request_goes_on_to_the_rules() -> None:
    assert screened() is None
    assert screened(replies_today=2) is None


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"sender": None}, MailOutcome.NO_SENDER),
        ({"replies_today": 3}, MailOutcome.REPEAT),
        ({"too_large": True}, MailOutcome.TOO_LARGE),
        ({"written_in": Month(2026, 10)}, MailOutcome.BEFORE_FIRST),
        ({"card": None}, MailOutcome.CARD_MISSING),
    ],
)
def test_each_reason_alone(changes: dict[str, object], outcome: MailOutcome) -> None:
    assert screened(**changes) is outcome


def test_the_first_reason_wins() -> None:
    # No reply can go without a sender, nor past the daily limit: those come first.
    assert screened(sender=None, replies_today=9, card=None) is MailOutcome.NO_SENDER
    assert screened(replies_today=9, too_large=True, card=None) is MailOutcome.REPEAT
    assert screened(too_large=True, written_in=Month(2026, 10)) is MailOutcome.TOO_LARGE


def test_a_sender_not_on_file_gets_one_neutral_reply_a_day_within_the_budget() -> None:
    """RULES section 9: whatever the request says (no card, too large, last month's), a
    stranger is told nothing about cards; one reply a day, within the hourly budget."""
    stranger = {"on_file": False, "strangers_left": 5}
    assert screened(**stranger) is MailOutcome.STRANGER
    assert screened(**stranger, card=None, too_large=True) is MailOutcome.STRANGER
    assert screened(**stranger, written_in=Month(2026, 10)) is MailOutcome.STRANGER
    assert screened(**stranger, replies_today=1) is MailOutcome.REPEAT
    assert screened(on_file=False, strangers_left=0) is MailOutcome.UNANSWERED


def test_a_sender_on_file_or_not_asked_goes_on_as_before() -> None:
    assert screened(on_file=True) is None
    assert screened(on_file=None) is None
    assert screened(on_file=True, card=None) is MailOutcome.CARD_MISSING
