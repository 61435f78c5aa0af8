"""What became of a mail request: the outcomes beyond the eligibility reasons, which of
them stay with staff, and which template answers each."""

from __future__ import annotations

from enum import StrEnum

from empikgo_mailer.domain.eligibility import Reason


class MailOutcome(StrEnum):
    """Outcomes of a mail request beyond the eligibility reasons."""

    ISSUED = "issued"
    BEFORE_FIRST = "written-before-first"
    CARD_MISSING = "card-missing"
    TOO_LARGE = "too-large"
    AUTOMATIC = "automatic"
    RATE_LIMITED = "rate-limited"  # before 0013: a repeat that was set aside for staff
    REPEAT = "repeat"  # one sender's replies for the day used up: filed, never answered
    STRANGER = "stranger"  # a sender not on file for any reader: one neutral reply
    UNANSWERED = "unanswered"  # a sender not on file, over the branch's hourly budget
    BOUNCE = "bounce"  # a delivery report about one of our replies: read, never answered
    NO_SENDER = "no-sender"
    FAILED = "failed"
    DUPLICATE = "duplicate"  # a second copy of a request: filed with it, never answered
    DISMISSED = "dismissed"  # set aside, then closed by staff without a reply


# Outcomes that leave the message with staff (the folder for staff, the set-aside list).
SET_ASIDE_OUTCOMES = frozenset(
    {
        MailOutcome.AUTOMATIC,
        MailOutcome.CARD_MISSING,
        MailOutcome.TOO_LARGE,
        MailOutcome.RATE_LIMITED,  # rows of before 0013 stay where they are
        MailOutcome.NO_SENDER,
        MailOutcome.FAILED,
    }
)

# Requests refused before the eligibility rules are asked (the monthly report counts them).
REFUSED_BEFORE_DECISION = (
    MailOutcome.BEFORE_FIRST,
    MailOutcome.CARD_MISSING,
    MailOutcome.TOO_LARGE,
)

# Every outcome that is answered has a template of the same name under templates/mail/.
# Legimi's "not open yet" never happens to an Empik Go mail; if it did, it reads as no codes.
TEMPLATE_OF = {reason.value: reason.value for reason in Reason} | {
    Reason.CLAIMS_NOT_OPEN.value: Reason.NO_CODES_LEFT.value,
    MailOutcome.ISSUED.value: "issued",
    MailOutcome.BEFORE_FIRST.value: "written-before-first",
    MailOutcome.CARD_MISSING.value: "card-missing",
    MailOutcome.TOO_LARGE.value: "too-large",
    MailOutcome.STRANGER.value: "stranger",
}

# The refusals a librarian may send to a message set aside for them: those a reader can act
# on without figures only the rules know (a debt's amount, a ban's months).
CHOSEN_REFUSALS = (
    MailOutcome.CARD_MISSING.value,
    Reason.CARD_NOT_FOUND.value,
    Reason.NAME_MISMATCH.value,
    Reason.SENDER_MISMATCH.value,
    Reason.ACCOUNT_INACTIVE.value,
    MailOutcome.TOO_LARGE.value,
    MailOutcome.BEFORE_FIRST.value,
    Reason.NO_CODES_LEFT.value,
)
