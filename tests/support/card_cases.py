"""One table of card numbers as people write them, for every door: the patron import, the
mail parser, the catalogue's HTTP endpoint and the desk. (typed, stored form)."""

from __future__ import annotations

CARD_CASES: list[tuple[str, str]] = [
    ("1000001", "1000001"),
    ("0012345", "0012345"),  # leading zeros are part of the number
    ("B0012345", "B0012345"),  # a letter prefix, as some cards carry
    ("b0012345", "B0012345"),
    ("AB-123456", "AB123456"),  # dashes and spaces are how people write it, not part of it
    ("ab 123 456", "AB123456"),
    ("AB\u2013123456", "AB123456"),  # an en dash a phone put in for "-"
    ("1000 001", "1000001"),
    ("1-000-001", "1000001"),
    ("\uff11\uff10\uff10\uff10\uff10\uff10\uff11", "1000001"),  # fullwidth digits
    ("\u0661\u0660\u0660\u0660\u0660\u0660\u0661", "1000001"),  # Arabic-Indic digits
    (" 1000001\u00a0", "1000001"),  # a no-break space pasted from a web page
    ("\uff21\uff22123456", "AB123456"),  # fullwidth letters
]

# Never a card number: refused with a Polish reason where a whole field is a card number.
NOT_CARDS: list[str] = ["", "   ", "12/345", "ŁK123456", "1" * 33, "<b>123</b>", "123.456"]

STORED = sorted({stored for _, stored in CARD_CASES})
