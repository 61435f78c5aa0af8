"""The size the sender announces in MAIL FROM (RFC 1870 SIZE) is counted, not built: it
must be exactly the octets DATA transmits, as aiosmtplib normalizes the message, or a
server enforcing SIZE may refuse a reply that would have fit."""

from __future__ import annotations

from aiosmtplib.protocol import normalize_message_line_endings
from hypothesis import given, settings
from hypothesis import strategies as st

from empikgo_mailer.adapters.smtp_sender import transmitted_size

# Line endings of every kind, next to each other and at the ends, among ordinary bytes.
PIECES = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r", b"a", b"Za\xc5\x82", b"."])


@settings(max_examples=2000)
@given(st.lists(PIECES, max_size=40).map(b"".join))
def test_the_size_is_what_data_transmits(message: bytes) -> None:
    assert transmitted_size(message) == len(normalize_message_line_endings(message))


@given(st.binary(max_size=300))
def test_the_size_of_any_bytes_is_what_data_transmits(message: bytes) -> None:
    assert transmitted_size(message) == len(normalize_message_line_endings(message))


def test_a_reply_as_the_outbox_holds_it() -> None:
    reply = b"To: czytelnik@example.com\nSubject: =?utf-8?q?EMPIK_GO?=\n\nKod: ...\n"
    assert transmitted_size(reply) == len(reply) + reply.count(b"\n")
    assert transmitted_size(b"") == 2  # the last line is always ended
