"""What a librarian is offered for a set-aside message: the reason's action first, a
refusal already sent left out, automatic mail only closed, several cards one button each."""

from __future__ import annotations

import pytest

from empikgo_mailer.domain.held_messages import (
    DISMISS,
    GIVE,
    REFUSE,
    HeldFacts,
    held_choices,
)
from empikgo_mailer.domain.mail_outcomes import CHOSEN_REFUSALS


def facts(outcome: str, **more: object) -> HeldFacts:
    values: dict[str, object] = {
        "outcome": outcome, "kind": "request", "sender": "r@example.com", "card": None,
        "cards": (), "told": None,
    } | more  # fmt: skip
    return HeldFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("held", "default", "default_refusal"),
    [
        (facts("card-missing"), GIVE, "card-missing"),
        (facts("card-missing", told="card-missing"), GIVE, "card-not-found"),
        (facts("too-large"), REFUSE, "too-large"),
        (facts("too-large", told="too-large"), DISMISS, "card-missing"),
        (facts("failed", card="1000001"), GIVE, "card-missing"),
        (facts("failed"), DISMISS, "card-missing"),
        (facts("rate-limited"), DISMISS, "card-missing"),
    ],
)
def test_the_reason_decides_what_comes_first(
    held: HeldFacts, default: str, default_refusal: str
) -> None:
    choices = held_choices(held)
    assert (choices.default, choices.default_refusal) == (default, default_refusal)
    assert choices.can_give
    assert held.told not in choices.refusals


def test_automatic_mail_and_bounces_are_only_closed() -> None:
    for held in (
        facts("automatic", kind="automatic"),
        facts("automatic", kind="bounce", card="1000001"),
    ):
        choices = held_choices(held)
        assert (choices.default, choices.can_give, choices.refusals) == (DISMISS, False, ())


def test_no_sender_no_refusal_and_several_cards_one_button_each() -> None:
    nobody = held_choices(facts("no-sender", sender=None, card="1000001"))
    assert (nobody.default, nobody.refusals, nobody.default_refusal) == (GIVE, (), None)
    several = held_choices(facts("card-missing", cards=("1000001", "1000002")))
    assert several.cards == ("1000001", "1000002")
    assert held_choices(facts("card-missing", cards=("1000001",))).cards == ()
    assert held_choices(facts("card-missing")).refusals == CHOSEN_REFUSALS
