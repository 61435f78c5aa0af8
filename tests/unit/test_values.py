"""Small value types: months, money, names."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from empikgo_mailer.domain.fines import items_text
from empikgo_mailer.domain.money import InvalidAmount, format_pln, parse_pln
from empikgo_mailer.domain.month import InvalidMonth, Month
from empikgo_mailer.domain.names import name_words, names_match
from empikgo_mailer.domain.polish import days_text


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "26-11", "2026-1", "listopad", "", "2026/11"]
)
def test_month_rejects_anything_but_yyyy_mm(text: str) -> None:
    with pytest.raises(InvalidMonth):
        Month.parse(text)


def test_month_arithmetic_crosses_years() -> None:
    assert Month(2026, 11).plus(3) == Month(2027, 2)
    assert Month(2027, 1).plus(-1) == Month(2026, 12)
    assert Month(2028, 2).last_day == date(2028, 2, 29)
    assert str(Month.parse("2026-03")) == "2026-03"


@pytest.mark.parametrize(
    ("text", "grosze"),
    [
        ("1,20", 120),
        ("1.20", 120),
        ("0,3", 30),
        ("0.30", 30),
        ("12", 1200),
        ("", None),
        ("1 234,50", 123450),
        ("1\u00a0234,50 zł", 123450),
        ("-5", -500),
        ("abc", None),
        ("1,234", None),
        ("1.2.3", None),
        ("0,50 PLN", 50),
    ],
)
def test_parse_pln(text: str, grosze: int | None) -> None:
    if grosze is None:
        with pytest.raises(InvalidAmount):
            parse_pln(text)
    else:
        assert parse_pln(text) == grosze


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_format_and_parse_round_trip(grosze: int) -> None:
    assert parse_pln(format_pln(grosze)) == grosze


@pytest.mark.parametrize("written", ["Łukasz Żak", "zak lukasz", "ŻAK Łukasz", "  łukasz   ŻAK "])
def test_names_match_ignoring_case_diacritics_and_order(written: str) -> None:
    assert names_match(written, "Łukasz", "Żak")


@pytest.mark.parametrize("written", ["Łukasz", "Łukasz Żakowski", "Jan Żak", "", "Łukaszek Żak"])
def test_names_that_do_not_match(written: str) -> None:
    assert not names_match(written, "Łukasz", "Żak")


def test_a_name_inside_a_sentence_matches() -> None:
    assert names_match("Dzień dobry, proszę o kod. Łukasz Żak, karta 1000001", "Łukasz", "Żak")


def test_double_barrelled_surnames_match_with_or_without_hyphen() -> None:
    assert names_match("Zofia Wiśniewska-Kowalska", "Zofia", "Wiśniewska-Kowalska")
    assert names_match("wisniewska kowalska zofia", "Zofia", "Wiśniewska-Kowalska")


def _folded_plainly(text: str) -> str:
    """The folding names are compared in, as its definition reads: the letters Unicode
    does not decompose replaced, then every combining mark dropped, then case folded."""
    for letter, plain in {"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "ß": "ss", "đ": "d"}.items():
        text = text.replace(letter, plain)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


_WRITTEN = st.text(
    st.one_of(st.sampled_from("ąćęłńóśźżĄĆĘŁŃÓŚŹŻøØßđ aZ9-,.\n\u0301\U0001d167"), st.characters()),
    max_size=60,
)


def _plain_name_words(text: str) -> str:
    kept: list[str] = []
    for token in re.split(r"[\s\-‐‑–—,.;]+", _folded_plainly(text)):
        if 0 < len(token) <= 40 and kept.count(token) < 2 and any(c.isalpha() for c in token):
            kept.append(token)
    return " ".join(kept)


@given(_WRITTEN)
def test_name_words_are_the_words_folded_as_defined(written: str) -> None:
    """The fast folding (regular expressions over the marks, replaces instead of a
    translation table) gives exactly the words of the plain definition, in any script:
    otherwise a reader's name would not match the record."""
    assert name_words(written) == _plain_name_words(written)


@pytest.mark.parametrize(
    ("count", "text"),
    [(1, "1 pozycja"), (2, "2 pozycje"), (5, "5 pozycji"), (12, "12 pozycji"), (22, "22 pozycje")],
)
def test_items_are_counted_in_polish(count: int, text: str) -> None:
    assert items_text(count) == text


def test_days_are_counted_in_polish() -> None:
    assert (days_text(1), days_text(2), days_text(11)) == ("1 dzień", "2 dni", "11 dni")
