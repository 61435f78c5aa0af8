"""A library card number: one rule for every door (import, e-mail, catalogue, desk).

What this library's systems produce (RULES.md leaves it to us; the patron export and the
cards in circulation decide it):
- digits, optionally after a short prefix of letters ("1000001", "B0012345", "AB123456");
- leading zeros belong to the number ("0012345" is not "12345");
- spaces and dashes are only how people write it ("AB-123 456"), never part of it;
- letters are case-blind; any Unicode decimal digit (fullwidth, Arabic-Indic ...) is a digit.
The stored form is therefore capital letters and ASCII digits, nothing else, at most 32.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from empikgo_mailer.domain.errors import BadInput

MAX_LENGTH = 32  # the patron.card_number column
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit of any script but ASCII
# The dashes phones and word processors put in for "-".
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_SEPARATORS = re.compile(r"[\s-]+")
_STORED = re.compile(r"^[A-Z0-9]+$")


def ascii_digits(text: str) -> str:
    """Fullwidth, Arabic-Indic and every other Unicode decimal digit as 0-9, fullwidth
    letters as plain letters (NFKC): phones and other keyboards type such characters."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return _OTHER_DIGIT.sub(lambda digit: str(unicodedata.decimal(digit.group())), text)


def typed_plainly(text: str) -> str:
    """`text` with ASCII digits and plain dashes, as card numbers are looked for in it."""
    return _DASHES.sub("-", ascii_digits(text))


class InvalidCardNumber(BadInput):
    """Not a card number of this library; the message is Polish, for the person who typed it."""


@dataclass(frozen=True, order=True)
class CardNumber:
    value: str  # the stored form

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: str) -> CardNumber:
        """The card number as a reader, staff or an export wrote it; InvalidCardNumber
        when it cannot be one."""
        value = _SEPARATORS.sub("", typed_plainly(text)).upper()
        shown = text.strip()[:40]
        if not value:
            raise InvalidCardNumber("brak numeru karty")
        if len(value) > MAX_LENGTH:
            raise InvalidCardNumber(
                f"niepoprawny numer karty „{shown}” (dłuższy niż {MAX_LENGTH} znaki)"
            )
        if not _STORED.match(value):
            raise InvalidCardNumber(
                f"niepoprawny numer karty „{shown}” (dozwolone są litery A–Z i cyfry)"
            )
        return cls(value)

    @classmethod
    def find(cls, text: str) -> CardNumber | None:
        """`parse` for a lookup: text that cannot be a card number finds no card."""
        try:
            return cls.parse(text)
        except InvalidCardNumber:
            return None


def shown_card(text: str) -> str:
    """How a card number is repeated back in a message: its stored form when it is one."""
    card = CardNumber.find(text)
    return text.strip()[:40] if card is None else card.value
