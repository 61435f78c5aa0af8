"""Matching a name written by a reader against the name on the library record."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Letters that Unicode does not decompose into a base letter and a mark.
_UNDECOMPOSABLE = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "ß": "ss", "đ": "d"})
_SEPARATORS = re.compile(r"[\s\-‐‑–—,.;]+")


def name_tokens(text: str) -> tuple[str, ...]:
    """The words of a name, folded: lower case, no diacritics, in sorted order."""
    folded = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    return tuple(sorted(token for token in _SEPARATORS.split(folded) if token))


def names_match(written: str, first_name: str, last_name: str) -> bool:
    """Case-, diacritics- and order-insensitive: 'zak lukasz' matches Łukasz Żak.

    Every word of the record's first and last name must be in what the reader wrote; other
    words may surround it, because a request by e-mail is a sentence, not a form field
    ("Dzień dobry, Łukasz Żak, karta 1000001").
    """
    expected = Counter(name_tokens(f"{first_name} {last_name}"))
    return bool(expected) and not expected - Counter(name_tokens(written))
