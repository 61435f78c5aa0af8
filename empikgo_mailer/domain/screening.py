"""Screening a mail request before the eligibility rules are asked: what ends it without
a decision about a code. Pure: the facts in, an outcome or None ("decide it") out."""

from __future__ import annotations

from dataclasses import dataclass

from empikgo_mailer.domain.mail_outcomes import MailOutcome
from empikgo_mailer.domain.month import Month


@dataclass(frozen=True)
class MailFacts:
    """What the queue knows about one request when its turn comes."""

    sender: str | None  # None: no single valid From address
    replies_today: int  # replies already written to this sender today
    too_large: bool
    written_in: Month  # the month the message was received in
    card: str | None  # the one card number found, None for none or several
    # The sender's address is on file for some reader; None: not asked (the library does
    # not require requests to come from the address on file).
    on_file: bool | None = None
    strangers_left: int = 0  # replies to senders not on file this branch may still write


def screen(facts: MailFacts, *, month: Month, daily_limit: int) -> MailOutcome | None:
    """In order: nobody to answer; the sender's replies for today used up (a repeat, filed
    without a reply, so a loop with an auto-responder ends and a flood of one sender's
    requests never reaches the librarians' list); a sender not on file for any reader
    (RULES section 9: one neutral reply a day, within the branch's hourly budget); too
    large to read; written before the 1st of this month (mail counts from 00:00 on the
    1st); no single card number."""
    if facts.sender is None:
        return MailOutcome.NO_SENDER
    stranger = facts.on_file is False
    if facts.replies_today >= (1 if stranger else daily_limit):
        return MailOutcome.REPEAT
    if stranger:
        return MailOutcome.STRANGER if facts.strangers_left > 0 else MailOutcome.UNANSWERED
    if facts.too_large:
        return MailOutcome.TOO_LARGE
    if facts.written_in < month:
        return MailOutcome.BEFORE_FIRST
    if facts.card is None:
        return MailOutcome.CARD_MISSING
    return None
