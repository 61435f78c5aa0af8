"""Reading a server's refusal as RFC 5321 and RFC 3463 mean it, with the rulebook's
exceptions (RULES §8): mailbox full and sending limits are temporary, X.1.x permanent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain.smtp_answers import (
    Refusal,
    classify,
    enhanced_status,
    smtp_answer_is_permanent,
)

T, P = Refusal.TEMPORARY, Refusal.PERMANENT


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        # Unknown user or domain: permanent, whatever else the words say.
        (550, "5.1.1 <jan@example.com>: Recipient address rejected: User unknown", P),
        (550, "5.1.1 The email account that you tried to reach does not exist.", P),
        (
            550,
            "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            P,
        ),
        (550, "#5.1.0 Address rejected jan@example.com", P),
        (553, "5.1.2 Domain of recipient address not found", P),
        (550, "5.1.1 mailbox unavailable, try again later", P),
        (550, "no such user", P),  # a bare 5xx is final
        (554, "Przekroczono limit wysyłanych wiadomości", T),  # a Polish host's sending limit
        (554, "5.7.1 rejected: spam", P),
        (554, "5.7.1 Service unavailable; Client host [192.0.2.25] blocked", P),
        (550, "5.4.1 Recipient address rejected: Access denied", P),
        (554, "5.4.6 Too many hops", P),  # a mail loop: not a sending limit
        (552, "5.3.4 Message size exceeds fixed limit", P),  # our reply is too large
        (552, "5.2.3 Message length exceeds administrative limit", P),
        # Mailbox full: temporary (the reader may empty it).
        (552, "5.2.2 mailbox full", T),
        (552, "Requested mail action aborted: exceeded storage allocation", T),
        (550, "5.2.2 The email account that you tried to reach is over quota.", T),
        (452, "4.2.2 Mailbox full", T),
        (550, "Skrzynka odbiorcy jest pełna", T),
        # Sending limits of the relay: temporary.
        (550, "5.7.1 rate limit exceeded", T),
        (550, "5.4.5 Daily user sending limit exceeded.", T),
        (554, "5.2.122 The recipient has exceeded their limit for the number of messages", T),
        (550, "Too many messages from this sender, slow down", T),
        (451, "4.7.1 Please try again later", T),
        (421, "4.7.0 Try again later, closing connection.", T),  # closing: the caller's business
        # Greylisting and other 4xx.
        (450, "4.2.0 greylisted, come back later", T),
        (451, "Temporary local problem - please try later", T),
        (450, "", T),
        # Not a refusal we can read: another try costs little.
        (250, "2.0.0 OK", T),
    ],
)
def test_refusals_are_read_as_the_rulebook_means_them(
    code: int, text: str, expected: Refusal
) -> None:
    assert classify(code, text) is expected
    assert smtp_answer_is_permanent(code, text) is (expected is P)


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        # A delivery report: its Status field, with or without the remote server's words.
        ("5.1.1", "", P),
        ("5.0.0", "550 Recipient address rejected: User unknown", P),
        ("4.4.1", "connect to mx.example.com[192.0.2.25]:25: Connection timed out", T),
        ("5.2.2", "552 5.2.2 Mailbox full", T),
        ("5.0.0", "5.0.0 (recipient reached disk quota)", T),
        ("5.7.1", "550 5.7.1 Message rejected as spam", P),
        ("5.7.1", "550 5.7.1 Sending rate limit exceeded", T),
        ("bogus", "550 5.1.1 user unknown", P),  # a broken Status: the text's code counts
        ("", "", T),
    ],
)
def test_a_reports_status_decides_with_the_servers_words(
    status: str, text: str, expected: Refusal
) -> None:
    assert classify(None, text, status=status) is expected


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("550 5.1.1 <x@y>: user unknown", "5.1.1"),
        ("550-5.7.1 [192.0.2.1] blocked", "5.7.1"),
        ("5.2.2 mailbox full", "5.2.2"),
        ("Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'", "5.1.10"),
        ("host 192.0.2.25 said: no such user", None),  # an IP address is not a status
        ("host 10.5.1.1 said: no such user", None),
        ("Postfix 3.7.11 says hello", None),
        ("delivered on 2.11.2026", None),
        ("", None),
    ],
)
def test_the_enhanced_code_is_found_where_servers_write_it(text: str, status: str | None) -> None:
    assert enhanced_status(text) == status


@settings(max_examples=300, deadline=None)
@given(code=st.integers(min_value=-1000, max_value=1000), text=st.text(max_size=3000))
def test_any_answer_is_classified(code: int, text: str) -> None:
    assert classify(code, text) in (T, P)
    assert (400 <= code < 500) <= (classify(code, text) is T)
