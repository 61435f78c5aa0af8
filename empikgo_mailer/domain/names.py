"""Matching a name written by a reader against the name on the library record."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter

# Letters that Unicode does not decompose into a base letter and a mark.
_UNDECOMPOSABLE = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "ß": "ss", "đ": "d"})
_SEPARATORS = re.compile(r"[\s\-‐‑–—,.;]+")
_ASCII_LETTER = re.compile(r"[a-z]", re.IGNORECASE)


@functools.cache
def _without_marks() -> dict[int, None]:
    """Every combining mark of the Basic Multilingual Plane, for str.translate: one C
    call per text instead of a Python test per character (built once, about 10 ms)."""
    return {cp: None for cp in range(0x10000) if unicodedata.combining(chr(cp))}


def _folded(text: str) -> str:
    if text.isascii():
        return text.casefold()
    folded = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    if max(folded) > "\uffff":  # marks beyond the BMP are rare: test each character
        return "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    return folded.translate(_without_marks()).casefold()


def name_tokens(text: str) -> tuple[str, ...]:
    """The words of a name, folded: lower case, no diacritics, in sorted order."""
    return tuple(sorted(token for token in _SEPARATORS.split(_folded(text)) if token))


def names_match(written: str, first_name: str, last_name: str) -> bool:
    """Case-, diacritics- and order-insensitive: 'zak lukasz' matches Łukasz Żak.

    Every word of the record's first and last name must be in what the reader wrote; other
    words may surround it, because a request by e-mail is a sentence, not a form field
    ("Dzień dobry, Łukasz Żak, karta 1000001").
    """
    expected = Counter(name_tokens(f"{first_name} {last_name}"))
    return bool(expected) and not expected - Counter(name_tokens(written))


def _has_letter(token: str) -> bool:
    if token.isascii():  # nearly every token: one regex search instead of a generator
        return _ASCII_LETTER.search(token) is not None
    return any(ch.isalpha() for ch in token)


MAX_NAME_TOKEN = 40  # no first or last name is longer
MAX_NAME_WORDS = 20_000  # characters kept for the name check


def name_words(text: str) -> str:
    """Every word of `text` that could be part of a name, folded as `name_tokens` folds
    them, in order of first appearance, each at most twice (a reader may be "Anna Anna"):
    a bounded text in which the name check finds a name wherever the reader wrote it,
    even after a megabyte of other text."""
    kept: Counter[str] = Counter()
    out: list[str] = []
    size = 0
    for token in _SEPARATORS.split(_folded(text)):
        if not token or len(token) > MAX_NAME_TOKEN or kept[token] >= 2:
            continue
        if not _has_letter(token):
            continue
        size += len(token) + 1
        if size > MAX_NAME_WORDS:
            break
        kept[token] += 1
        out.append(token)
    return " ".join(out)
