"""Reading hostile mail: addresses from parsed headers only, bounded header values, any
digits, any charset, any nesting; and replies that stay within RFC 5322."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain.addresses import read_sender, valid_address
from empikgo_mailer.domain.card_number import CardNumber
from empikgo_mailer.domain.mail_requests import card_numbers, fingerprint, read_message
from empikgo_mailer.domain.mail_text import decode_text
from empikgo_mailer.domain.names import names_match
from empikgo_mailer.domain.replies import compose_reply
from empikgo_mailer.domain.retries import MAX_SEND_ATTEMPTS, next_try

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "address"),
    [
        ("Jan Kowalski <jan@example.com>", "jan@example.com"),
        ("=?UTF-8?Q?=C5=81ukasz_=C5=BBak?= <lukasz.zak@example.com>", "lukasz.zak@example.com"),
        ("jan@example.com (Jan)", "jan@example.com"),
        ("J. Kowalski <jan@example.com>", "jan@example.com"),  # obsolete, but harmless
        ("Łukasz <łukasz@przykład.pl>", "łukasz@przykład.pl"),  # RFC 6532, raw UTF-8
        ('"reader@example.com" <evil@x.test>', "evil@x.test"),  # quoted: a name, not an address
        ("=?utf-8?q?Ewa=0D=0ABcc=3A_x=40y.z?= <ewa@example.com>", "ewa@example.com"),
        # Nobody we can trust: set aside for staff, never answered to a guess.
        ("=?utf-8?q?=C5=82ukasz=40example.com?=", None),  # an "@" inside an encoded word
        ("reader@example.com <evil@x.test>", None),  # an address as an unquoted name
        ("a@example.com, b@example.com", None),
        ("undisclosed-recipients:;", None),
        ("<>", None),
        ("jan@", None),
        ("jan@localhost", None),
        ('"a b"@example.com', None),
        ("Jan <jan@[127.0.0.1]>", None),
        (f"<{'a' * 300}@example.com>", None),
        ("Jan Kowalski <jan@example.com", None),
    ],
)
def test_the_sender_is_one_parsed_address_or_nobody(header: str, address: str | None) -> None:
    reading = read_sender([header])
    assert reading.address == address
    assert (reading.problem is None) == (address is not None)


def test_two_from_headers_name_nobody() -> None:
    assert read_sender(["a@example.com", "b@example.com"]).address is None


@pytest.mark.parametrize(
    ("typed", "card"),
    [
        ("１０００００１", "1000001"),
        ("١٠٠٠٠٠١", "1000001"),
        ("۱۰۰۰۰۰۱", "1000001"),
        ("b 12 34", "B1234"),
    ],
)
def test_card_numbers_in_any_digits(typed: str, card: str) -> None:
    assert CardNumber.parse(typed).value == card
    assert card_numbers(f"Jan Kowalski, nr karty {typed}") == ((card,) if len(card) > 4 else ())


def test_a_flood_of_numbers_is_cut_short() -> None:
    text = " ".join(str(10_000_000 + n) for n in range(100_000))
    assert len(card_numbers(text)) == 10


def test_bodies_without_a_charset_are_read_as_polish_clients_wrote_them() -> None:
    text = "Małgorzata Żółkiewska, Świętokrzyska, ąęśźćń"
    assert decode_text(text.encode("utf-8"), None) == text
    assert decode_text(text.encode("cp1250"), None) == text
    assert decode_text(text.encode("iso8859-2"), None) == text
    assert decode_text(text.encode("cp1250"), "us-ascii") == text  # a wrong declaration
    assert decode_text(b"Zenon Idna 2000011", "idna") == "Zenon Idna 2000011"
    assert decode_text("Zażółć".encode(), "x-no-such-charset") == "Zażółć"


def request(headers: str, body: bytes | str) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return f"Subject: EMPIK GO\nFrom: jan@example.com\n{headers}\n\n".encode() + data


def test_a_message_nested_a_thousand_levels_is_read_as_far_as_it_can_be() -> None:
    depth = 1000
    nested = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    raw = b"Subject: EMPIK GO\nFrom: jan@example.com\nMIME-Version: 1.0\n" + nested.encode()
    reading = read_message(raw)
    assert reading.is_request and reading.sender.address == "jan@example.com"
    assert reading.request.cards == ()
    assert any("nieczytelna treść" in problem for problem in reading.problems)


def test_the_name_is_found_after_a_megabyte_line() -> None:
    reading = read_message(request("", "x" * 1_048_576 + "\nBożena Długosz\nkarta 2000005"))
    assert reading.request.card == "2000005"
    assert names_match(reading.request.name_words, "Bożena", "Długosz")
    assert len(reading.request.words) <= 2000


def test_absurd_message_ids_and_references_are_dropped_not_passed_on() -> None:
    long_id = f"<{'m' * 20_000}@example.com>"
    refs = " ".join(f"<r{i}@example.com>" for i in range(500))
    reading = read_message(request(f"Message-ID: {long_id}\nReferences: {refs}", "x"))
    assert reading.message_id is None
    assert len(reading.references) == 10 and reading.references[-1] == "<r499@example.com>"
    assert read_message(request("Message-ID: <a b@c>", "x")).message_id is None
    assert read_message(request("Message-ID: <ok.1@example.com>", "x")).message_id == (
        "<ok.1@example.com>"
    )


def test_mail_from_a_branch_mailbox_is_automatic() -> None:
    raw = b"Subject: EMPIK GO\nFrom: W63@Biblioteka.test\n\nkarta 1000001\n"
    reading = read_message(raw, own_addresses=frozenset({"w63@biblioteka.test"}))
    assert reading.automatic == "wiadomość z adresu biblioteki (W63@Biblioteka.test)"


def test_fingerprints_tell_senders_apart() -> None:
    raw = b"x"
    one = fingerprint("a@example.com", "<same@x>", raw)
    assert one == fingerprint("A@Example.com", "<same@x>", b"other bytes")
    assert one != fingerprint("b@example.com", "<same@x>", raw)
    assert fingerprint(None, "<same@x>", raw) == fingerprint("a@example.com", None, raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_no_bytes_crash_reading_and_everything_read_is_storable(raw: bytes) -> None:
    reading = read_message(b"Subject: EMPIK GO\n" + raw)
    for value in (reading.subject or "", reading.request.words, reading.request.name_words):
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogates
    assert len(reading.subject or "") <= 500
    assert reading.message_id is None or len(reading.message_id) <= 250
    assert reading.sender.address is None or valid_address(reading.sender.address)


def compose(to: str, message_id: str | None, references: str | None) -> bytes:
    return compose_reply(
        text="Dzień dobry",
        from_name="Wypożyczalnia",
        from_address="w63@biblioteka.test",
        to_address=to,
        original_subject="Re: EMPIK GO\r\nBcc: evil@x.test",
        original_message_id=message_id,
        original_references=references,
        now=NOW,
    ).text.encode("utf-8")


def test_a_reply_goes_to_the_plain_address_and_stays_within_line_limits() -> None:
    refs = " ".join(f"<r{i}-{'x' * 80}@example.com>" for i in range(40))
    raw = compose("łukasz@przykład.pl", "<orig@example.com>", refs)
    message = message_from_bytes(raw, policy=default)
    assert b"\nTo: \xc5\x82ukasz@przyk\xc5\x82ad.pl\n" in b"\n" + raw
    assert message["In-Reply-To"] == "<orig@example.com>"
    assert str(message["References"]).split()[-1] == "<orig@example.com>"
    assert len(str(message["References"]).split()) == 10
    assert message["Bcc"] is None and str(message["Subject"]).startswith("Re: EMPIK GO")
    assert all(len(line) <= 998 for line in raw.split(b"\n"))


def test_a_reply_to_an_absurd_message_id_is_sent_unthreaded() -> None:
    message = message_from_bytes(compose("jan@example.com", f"<{'m' * 20_000}@x>", None))
    assert message["In-Reply-To"] is None and message["References"] is None


def test_a_reply_is_never_addressed_to_anything_but_an_address() -> None:
    with pytest.raises(ValueError, match="valid address"):
        compose("jan@example.com\r\nBcc: evil@x.test", None, None)


def test_deferred_replies_back_off_then_fail() -> None:
    pauses = [next_try(n, NOW) for n in range(1, MAX_SEND_ATTEMPTS + 1)]
    assert [p - NOW if p else None for p in pauses[:5]] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=60),
        timedelta(minutes=60),
    ]
    assert pauses[-1] is None
