"""SMTP refusals read as RFC 5321 and RFC 3463 mean them (RULES section 8)."""

from __future__ import annotations

import pytest

from empikgo_mailer.domain.smtp_answers import is_permanent


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (552, "5.2.2 Mailbox full"),
        (552, "Requested mail action aborted: exceeded storage allocation"),
        (452, "4.2.2 Mailbox full"),
        (550, "5.2.2 The email account that you tried to reach is over quota"),
        (450, "4.2.0 Greylisted, please try again later"),
        (451, "4.7.1 Please try again later"),
        (550, "5.7.1 Message rate limit exceeded, try again later"),
        (554, "5.7.0 Too many messages sent from your account"),
        (550, "Daily sending limit exceeded"),
        (421, "4.7.0 Try again later, closing connection"),
        (550, "5.4.5 Daily user sending quota exceeded."),
        (554, "Przekroczono limit wysyłanych wiadomości"),
    ],
)
def test_temporary(code: int, text: str) -> None:
    assert not is_permanent(code, text)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (550, "5.1.1 <anna@example.com>: Recipient address rejected: User unknown"),
        (550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found"),
        (553, "5.1.3 Bad recipient address syntax"),
        (550, "No such user here"),
        (554, "5.7.1 Rejected: spam content"),
        (550, "5.1.2 Host unknown: domain does not exist"),
        (554, "Transaction failed"),
    ],
)
def test_permanent(code: int, text: str) -> None:
    assert is_permanent(code, text)
