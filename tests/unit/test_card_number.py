"""The card number rule, and the mail parser reading the same table of cases."""

from __future__ import annotations

import pytest

from empikgo_mailer.domain.card_number import CardNumber, InvalidCardNumber, shown_card
from empikgo_mailer.domain.mail_requests import card_numbers
from tests.support.card_cases import CARD_CASES, NOT_CARDS


@pytest.mark.parametrize(("typed", "stored"), CARD_CASES)
def test_a_card_number_is_stored_one_way(typed: str, stored: str) -> None:
    assert CardNumber.parse(typed).value == stored
    assert shown_card(typed) == stored


@pytest.mark.parametrize("typed", NOT_CARDS)
def test_what_is_not_a_card_number_says_why_in_polish(typed: str) -> None:
    with pytest.raises(InvalidCardNumber, match="numer") as refused:
        CardNumber.parse(typed)
    assert "karty" in str(refused.value)
    assert CardNumber.find(typed) is None


@pytest.mark.parametrize(("typed", "stored"), CARD_CASES)
def test_the_mail_door_reads_a_labelled_card_the_same_way(typed: str, stored: str) -> None:
    assert card_numbers(f"Jan Kowalski\nNr karty: {typed}\nPozdrawiam") == (stored,)
    assert card_numbers(f"Jan Kowalski, numer karty bibliotecznej {typed}.") == (stored,)


@pytest.mark.parametrize("typed", [t for t in NOT_CARDS if t.strip()])
def test_the_mail_door_invents_no_card(typed: str) -> None:
    assert card_numbers(f"Jan Kowalski\nNr karty: {typed}") == ()
