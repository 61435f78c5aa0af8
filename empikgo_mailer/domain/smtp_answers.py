"""What a mail server's refusal means for a reply: try again later, or never (RULES §8).

One reading for the SMTP sender (an answer to RCPT or DATA) and for delivery reports
that come back later (their Status and Diagnostic-Code), so that both count the same
answer the same way. RFC 5321 gives the class (4xx: try again, 5xx: do not), RFC 3463's
enhanced code says why; where the two disagree with what servers mean in practice the
rulebook decides:
- a full mailbox (X.2.2, 552 without an enhanced code, as RFC 5321 §4.5.3.1.10 advises)
  is temporary: the reader may empty it;
- a relay's sending limit (4.7.x, X.4.5, or any 5xx that names a rate limit: "550 5.7.1
  rate limit exceeded", Gmail's "550 5.4.5 Daily user sending limit exceeded") is
  temporary: the limit lifts;
- an unknown user or domain (X.1.x) is permanent, whatever else the text says;
- every other 5xx is permanent ("554 5.7.1 rejected: spam", a bare "550 no such user").
"421" (the server is closing the connection) is temporary here; what it means for the
connection is the caller's business.
"""

from __future__ import annotations

import re
from enum import StrEnum

MAX_TEXT = 2000  # the words are read from this much of an answer; real ones are shorter


class Refusal(StrEnum):
    TEMPORARY = "temporary"  # send again later
    PERMANENT = "permanent"  # sending again cannot help


# RFC 3463: class.subject.detail, class 2, 4 or 5, up to three digits each; not a piece
# of an IP address or a version number (no digit or dot on either side).
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
# Where servers write it: right after the reply code ("550 5.1.1 ...", "550-5.1.1",
# Exim's "550 #5.1.1"), or at the start of the text when the code was split off.
_LEADING = re.compile(r"\s*(?:[245]\d\d[ -])?\s*#?([245]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)")
# Temporary by nature: a mailbox over its quota, a relay's sending or receiving limit.
_TEMPORARY_WORDS = re.compile(
    r"mailbox (?:is )?full|mailbox.{0,20}storage|quota|disk full"
    r"|exceed\w* (?:the |their |his |her )?storage|insufficient (?:system )?storage"
    r"|rate[ -]?limit|ratelimit|sending limit|(?:message|sending|receiving) rate"
    r"|too many (?!hops)|throttl|limit exceeded|exceeded\b.{0,40}\blimit"
    r"|try (?:again )?later|skrzynka.{0,20}(?:pełna|przepełniona)|przekroczon\w* limit",
    re.IGNORECASE,
)
# X.2.2 mailbox full, X.3.1 mail system full, X.4.5 mail system congestion.
_TEMPORARY_SUBJECTS = frozenset({("2", "2"), ("3", "1"), ("4", "5")})
# The message itself is too large (X.3.4, X.2.3): the same reply is refused every time,
# though the server's words name a limit ("message size limit exceeded").
_TOO_LARGE_SUBJECTS = frozenset({("3", "4"), ("2", "3")})
MAILBOX_FULL_CODE = 552


def enhanced_status(text: str) -> str | None:
    """The RFC 3463 code a server wrote in its answer ("5.1.1"), None when there is none.
    The one right after the reply code counts first; else the first one in the text
    (Exchange quotes the remote answer: "Remote Server returned '550 5.1.10 ...'")."""
    text = text[:MAX_TEXT]
    leading = _LEADING.match(text)
    if leading is not None:
        return leading.group(1)
    found = _ENHANCED.search(text)
    return found.group(0) if found is not None else None


def classify(code: int | None, text: str, *, status: str | None = None) -> Refusal:
    """How final a refusal is. `code`: the basic reply code (None when only a delivery
    report's Status is known); `text`: the server's words; `status`: the enhanced code
    when it came apart from the text (a report's Status field), else read from the text."""
    if status is None or _ENHANCED.fullmatch(status.strip()) is None:
        status = enhanced_status(text)
    else:
        status = status.strip()
    klass, subject, detail = status.split(".") if status is not None else (None, None, None)
    if (code is not None and 400 <= code < 500) or klass == "4":
        return Refusal.TEMPORARY  # the server itself says a retry may succeed
    if subject == "1":
        return Refusal.PERMANENT  # X.1.x: no such user, no such domain, a bad address
    if (subject, detail) in _TEMPORARY_SUBJECTS:
        return Refusal.TEMPORARY
    if (subject, detail) in _TOO_LARGE_SUBJECTS:
        return Refusal.PERMANENT
    if _TEMPORARY_WORDS.search(text[:MAX_TEXT]):
        return Refusal.TEMPORARY
    if code == MAILBOX_FULL_CODE and status is None:
        return Refusal.TEMPORARY
    if (code is not None and 500 <= code < 600) or klass == "5":
        return Refusal.PERMANENT
    return Refusal.TEMPORARY  # not a refusal we can read: another try costs little


def smtp_answer_is_permanent(code: int, text: str) -> bool:
    """True when the server refused for good (the reply will never get through)."""
    return classify(code, text) is Refusal.PERMANENT
