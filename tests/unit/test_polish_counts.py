"""The noun after a number, as Polish has it: "Zatwierdź i wczytaj 4 kody", not "4 kodów"."""

from __future__ import annotations

import pytest

from empikgo_mailer.domain.polish import count_text


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 kodów"),
        (1, "1 kod"),
        (2, "2 kody"),
        (4, "4 kody"),
        (5, "5 kodów"),
        (11, "11 kodów"),
        (12, "12 kodów"),
        (14, "14 kodów"),
        (21, "21 kodów"),
        (22, "22 kody"),
        (104, "104 kody"),
        (112, "112 kodów"),
        (1000, "1000 kodów"),
    ],
)
def test_the_noun_follows_the_number(count: int, text: str) -> None:
    assert count_text(count, "kod", "kody", "kodów") == text
