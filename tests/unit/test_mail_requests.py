"""Recognising requests: subjects, automatic mail, card numbers, and robustness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain.mail_headers import Headers, header_text
from empikgo_mailer.domain.mail_requests import (
    RequestText,
    card_numbers,
    is_request_subject,
    own_words,
    parse_message,
    read_message,
    read_request,
)
from empikgo_mailer.domain.names import names_match


@pytest.mark.parametrize(
    "subject",
    [
        "EMPIK GO",
        "empik go",
        "Empik Go",
        "EMPIKGO",
        "  EMPIK   GO ",
        "Re: EMPIK GO",
        "RE: Re: EMPIK GO",
        "Odp: EMPIK GO",
        "Fwd: EMPIK GO",
        "PD: Empik Go",
        "RE[2]: EMPIK GO",
        "EMPIK GO!",
        "Empik-Go",
        # RULES.md section 2: the words EMPIK GO inside a longer subject count too.
        "Kod Empik Go",
        "EMPIK GO prośba",
    ],
)
def test_request_subjects(subject: str) -> None:
    assert is_request_subject(subject)


@pytest.mark.parametrize("subject", ["", "Legimi", "Re: Godziny otwarcia"])
def test_other_subjects_are_not_ours(subject: str) -> None:
    assert not is_request_subject(subject)


def test_encoded_subject_and_sender_are_decoded() -> None:
    reading = read_message(
        b"From: =?UTF-8?B?QWduaWVzemthIFppZWxpxYRza2E=?= <a.z@example.com>\r\n"
        b"Subject: =?UTF-8?B?RU1QSUsgR08=?=\r\n\r\nx\r\n"
    )
    assert reading.subject == "EMPIK GO"
    assert reading.sender.address == "a.z@example.com"


@pytest.mark.parametrize(
    ("headers", "automatic"),
    [
        (b"Auto-Submitted: auto-replied\r\n", True),
        (b"Auto-Submitted: no\r\n", False),
        (b"Precedence: bulk\r\n", True),
        (b"List-Id: <czytelnicy.example.com>\r\n", True),
        (b"Return-Path: <>\r\n", True),
        (b"X-Autoreply: yes\r\n", True),
        (b"", False),
    ],
)
def test_automatic_mail(headers: bytes, automatic: bool) -> None:
    reading = read_message(b"From: a@b.pl\r\nSubject: EMPIK GO\r\n" + headers + b"\r\nbody\r\n")
    assert (reading.automatic is not None) is automatic


def test_mailer_daemon_is_automatic() -> None:
    reading = read_message(b"From: MAILER-DAEMON@mx.example.org\r\nSubject: EMPIK GO\r\n\r\nx\r\n")
    assert reading.automatic == "komunikat serwera poczty (MAILER-DAEMON@mx.example.org)"


@pytest.mark.parametrize(
    ("text", "cards"),
    [
        ("Jan Kowalski\nnr karty 1000001", ("1000001",)),
        ("Numer karty bibliotecznej: B 001 234", ("B001234",)),
        ("Karta czytelnika nr 1000 001", ("1000001",)),
        ("tel. 600 700 800, 02-566 Warszawa, 2026-11-01", ()),
        ("karta 1000001 i 1000002", ("1000001", "1000002")),
        ("moja karta: 1000001 (1000001)", ("1000001",)),
    ],
)
def test_card_numbers(text: str, cards: tuple[str, ...]) -> None:
    assert card_numbers(text) == cards


def test_quotes_and_signatures_are_not_the_request() -> None:
    text = "Jan 1000003\n\n-- \nJan Kowalski\nkarta 999999\n"
    assert own_words(text) == "Jan 1000003"
    text = "Proszę o kod\nOn Mon, 2 Nov 2026 at 10:00, Biblioteka wrote:\n> karta 999999"
    assert own_words(text) == "Proszę o kod"


def request(body: str) -> RequestText:
    raw = "From: a@b.pl\r\nSubject: EMPIK GO\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    return read_request(parse_message((raw + body.replace("\n", "\r\n")).encode()))


SIGNED = "-- \nEwa Woźniak\n"


@pytest.mark.parametrize(
    ("body", "cards"),
    [
        # None in the reader's own words: a labelled number in the signature counts.
        (f"Proszę o kod.\n{SIGNED}nr karty 1000012\n", ("1000012",)),
        (f"Proszę o kod.\n{SIGNED}Karta biblioteczna: 1000012\ntel. 601234567\n", ("1000012",)),
        ("Proszę o kod.\n\nWysłane z iPhone'a\nEwa Woźniak, nr karty 1000012\n", ("1000012",)),
        ("Proszę o kod.\nVon meinem iPhone gesendet\nKarta: 1000012\n", ("1000012",)),
        # The reader's own words come first: the signature is not read for a card then.
        (f"Ewa Woźniak 1000012\n{SIGNED}nr karty 1000011\n", ("1000012",)),
        # A bare number in a signature is a phone, a postcode, anything but a card.
        (f"Proszę o kod.\n{SIGNED}601234567\ntel. 601234567\n", ()),
        # Two labelled numbers: ambiguous, as anywhere else.
        (f"Proszę o kod.\n{SIGNED}karta 1000011\nkarta męża 1000012\n", ("1000011",)),
        (f"Proszę o kod.\n{SIGNED}karta 1000011, karta 1000012\n", ("1000011", "1000012")),
        # Quoted earlier messages below a signature are still not read.
        (f"Proszę o kod.\n{SIGNED}\n> nr karty 1000011\n", ()),
        (f"Proszę o kod.\n{SIGNED}\nW dniu 2.10.2026 o 10:05 X pisze:\nnr karty 1000011\n", ()),
        (f"Proszę o kod.\n{SIGNED}\nOd: Biblioteka\nnr karty 1000011\n", ()),
        (f"Proszę o kod.\n{SIGNED}\nVan: Biblioteka\nnr karty 1000011\n", ()),
        # Only the first lines of a signature: a card label stands near the name.
        (f"Proszę o kod.\n{SIGNED}" + "Zastrzeżenie.\n" * 30 + "nr karty 1000011\n", ()),
        # Quotes introduced as German, Dutch and Nordic clients do are cut too.
        (
            "mój numer karty to 1000010\n\nVan: X\nVerzonden: zondag\n\n(1000010, 1000011)",
            ("1000010",),
        ),
        ("Karta 1000010\n\nAm 1.11.2026 um 10:02 schrieb X:\n1000011", ("1000010",)),
        ("Karta 1000010\n\nOp 1 nov. 2026 om 10:02 schreef X:\n1000011", ("1000010",)),
        ("Karta 1000010\n\nDen 1 nov. 2026 kl. 10:02 skrev X:\n1000011", ("1000010",)),
    ],
)
def test_a_labelled_card_in_the_signature_counts_when_the_words_hold_none(
    body: str, cards: tuple[str, ...]
) -> None:
    assert request(body).cards == cards


def test_staff_see_the_signature_that_held_the_card() -> None:
    found = request(f"Proszę o kod.\n{SIGNED}nr karty 1000012\ntel. 601234567\n")
    assert found.words == "Proszę o kod.\n-- \nEwa Woźniak\nnr karty 1000012\ntel. 601234567"
    assert request(f"Jan Kowalski 1000003\n{SIGNED}").words == "Jan Kowalski 1000003"


def test_the_name_may_stand_in_the_signature() -> None:
    found = request(f"Proszę o kod, karta 1000012.\n{SIGNED}")
    assert names_match(found.name_words, "Ewa", "Woźniak")
    assert found.words == "Proszę o kod, karta 1000012."


@pytest.mark.parametrize(
    ("text", "cards"),
    [
        ("Mój numer karty to 1000010", ("1000010",)),  # "to" is a word, not letters of a card
        ("numer karty to: 1000010", ("1000010",)),
        ("Karta biblioteczna nr 1000012", ("1000012",)),
        ("nr karty: B 001 234", ("B001234",)),
    ],
)
def test_card_labels(text: str, cards: tuple[str, ...]) -> None:
    assert card_numbers(text) == cards
    assert card_numbers(text, labelled_only=True) == cards


def test_only_labelled_numbers_when_asked() -> None:
    assert card_numbers("Jan 1000003, tel. 601234567", labelled_only=True) == ()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_no_bytes_crash_the_reader(raw: bytes) -> None:
    message = parse_message(raw)
    header_text(Headers(message), "Subject")
    read_request(message)
    # The sender and the automatic-mail signs are read inside `read_message`, which never
    # raises: a step that failed would show as unreadable headers.
    problems = read_message(raw).problems
    assert not [p for p in problems if p.startswith("nieczytelne nagłówki")], problems


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["utf-8", "iso-8859-2", "x-unknown", "cp1250"]))
def test_no_text_in_any_charset_crashes_the_reader(body: str, charset: str) -> None:
    raw = (
        f"From: a@b.pl\r\nSubject: EMPIK GO\r\nContent-Type: text/html; charset={charset}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body.encode("utf-8", "surrogatepass")
    read_request(parse_message(raw))
