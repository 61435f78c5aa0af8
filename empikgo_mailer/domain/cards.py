"""Card numbers as readers type them: any Unicode digits, any spacing, any case."""

from __future__ import annotations

import re
import unicodedata

_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit of any script but ASCII


def ascii_digits(text: str) -> str:
    """Fullwidth, Arabic-Indic and every other Unicode decimal digit as 0-9, fullwidth
    letters as plain letters (NFKC): phones and other keyboards type such characters."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return _OTHER_DIGIT.sub(lambda digit: str(unicodedata.decimal(digit.group())), text)


def normalise_card(card_number: str) -> str:
    """The form a card number is stored and looked up in: ASCII digits, capital letters,
    no whitespace."""
    return "".join(ascii_digits(card_number).split()).upper()
