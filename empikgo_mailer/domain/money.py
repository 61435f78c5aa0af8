"""Money as integer grosze: parsing Polish and English amounts, formatting for people."""

from __future__ import annotations

import re

from empikgo_mailer.domain.errors import BadInput

# Thousands may be grouped with spaces (also the no-break spaces Excel writes);
# the decimal mark is a comma or a dot, with at most two digits after it.
_AMOUNT_RE = re.compile(r"^([+-]?)(\d{1,9})(?:[.,](\d{1,2}))?$")
_GROUPING = str.maketrans("", "", " \u00a0\u202f")


class InvalidAmount(BadInput):
    """A text that is not an amount of money in PLN."""


def parse_pln(text: str) -> int:
    """Return the amount in grosze: '1,20' -> 120, '0.3' -> 30, '-5' -> -500."""
    cleaned = text.strip().removesuffix("zł").removesuffix("PLN").strip().translate(_GROUPING)
    match = _AMOUNT_RE.match(cleaned)
    if match is None:
        raise InvalidAmount(f"not an amount in PLN: {text!r}")
    sign, whole, fraction = match.groups()
    grosze = int(whole) * 100 + int((fraction or "0").ljust(2, "0"))
    return -grosze if sign == "-" else grosze


def format_pln(grosze: int) -> str:
    """Format grosze the Polish way: 120 -> '1,20 zł'."""
    sign = "-" if grosze < 0 else ""
    whole, fraction = divmod(abs(grosze), 100)
    return f"{sign}{whole},{fraction:02d} zł"
