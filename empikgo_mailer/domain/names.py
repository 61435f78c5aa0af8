"""Matching a name written by a reader against the name on the library record."""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections import Counter

# Letters that Unicode does not decompose into a base letter and a mark. A few
# `str.replace` calls: `str.translate` with a mapping costs a dictionary lookup per
# character, about 3 µs for a short Polish request.
_UNDECOMPOSABLE = (("ł", "l"), ("Ł", "l"), ("ø", "o"), ("Ø", "o"), ("ß", "ss"), ("đ", "d"))
_SEPARATORS = re.compile(r"[\s\-‐‑–—,.;]+")
_ASCII_LETTER = re.compile(r"[a-z]", re.IGNORECASE)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@functools.cache
def _marks(astral: bool) -> re.Pattern[str]:
    """Every combining mark as one character class: one C call per text instead of a
    Python test per character (built once, about 40 ms). The class of the Basic
    Multilingual Plane alone is a bitmap, several times faster than one with astral
    ranges, which the regex engine tests one by one."""
    ranges: list[list[int]] = []
    for cp in range(sys.maxunicode + 1 if astral else 0x10000):
        if unicodedata.combining(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]+")


def _folded(text: str) -> str:
    if text.isascii():
        return text.casefold()
    for letter, plain in _UNDECOMPOSABLE:
        if letter in text:
            text = text.replace(letter, plain)
    folded = unicodedata.normalize("NFKD", text)
    if folded.isascii():
        return folded.casefold()
    return _marks(_ASTRAL.search(folded) is not None).sub("", folded).casefold()


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


MAX_NAME_TOKEN = 40  # no first or last name is longer
MAX_NAME_WORDS = 20_000  # characters kept for the name check


def name_words(text: str) -> str:
    """Every word of `text` that could be part of a name, folded as `name_tokens` folds
    them, in order of first appearance, each at most twice (a reader may be "Anna Anna"):
    a bounded text in which the name check finds a name wherever the reader wrote it,
    even after a megabyte of other text."""
    kept: dict[str, int] = {}
    out: list[str] = []
    size = 0
    for token in _SEPARATORS.split(_folded(text)):
        if not token or len(token) > MAX_NAME_TOKEN:
            continue
        count = kept.get(token, 0)
        if count >= 2:
            continue
        # A letter in it: nearly every token is ASCII, where one regex search does.
        if token.isascii():
            if _ASCII_LETTER.search(token) is None:
                continue
        elif not any(ch.isalpha() for ch in token):
            continue
        size += len(token) + 1
        if size > MAX_NAME_WORDS:
            break
        kept[token] = count + 1
        out.append(token)
    return " ".join(out)


MAX_NAME_KEY = 200  # the patron.name_key column


def name_key(first_name: str, last_name: str) -> str:
    """A reader's name as the console searches it: the words of `name_tokens`, spaced, so
    that "zak luk" finds Łukasz Żak by each word's beginning, in any order."""
    return " ".join(name_tokens(f"{first_name} {last_name}"))[:MAX_NAME_KEY]
