"""What an SMTP server's refusal means for a reply, as RFC 5321 and RFC 3463 mean it
(RULES section 8): try again later, or never.

The basic code's first digit is not enough. Servers answer "mailbox full" with 552 (RFC
5321 section 6.2 asks clients to treat it as temporary) or with the enhanced code 5.2.2
(RFC 3463: "mailbox full", transient in practice); a relay's sending limit comes back as
"550 5.7.1 rate limit exceeded" or "554 too many messages". Those clear by themselves, and
failing them at once would cost a reader their code. An unknown user or domain (5.1.x),
a refused policy, a message the server can never take, stay permanent.
"""

from __future__ import annotations

import re

# "5.1.1", "4.7.0" at the start of the text (RFC 3463: class.subject.detail).
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# Words of a sending limit, in the wording of common servers (Postfix, Exchange, Gmail,
# Microsoft 365's "SendAsDenied"-free throttling, Polish hosting).
_RATE_LIMIT = re.compile(
    r"rate.?limit|too many|try again later|throttl|exceeded.{0,30}(?:limit|quota|rate)|"
    r"limit.{0,30}exceeded|przekroczon|zbyt wiele|za dużo",
    re.IGNORECASE,
)
_MAILBOX_FULL = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota exceeded|exceeded storage|insufficient storage|"
    r"skrzynka (?:jest )?pełna|przekroczon\w* limit\w* (?:miejsca|pojemności)",
    re.IGNORECASE,
)
MAILBOX_FULL_CODE = 552  # RFC 5321 section 6.2: a client should treat it as temporary


def is_permanent(code: int, text: str) -> bool:
    """Whether the server refused the reply for good (`code`: the basic reply code,
    `text`: the rest of its answer). Call only for a refusal (4xx or 5xx)."""
    if not 500 <= code < 600:
        return False
    enhanced = _ENHANCED.match(text)
    if enhanced is not None:
        klass, subject, detail = enhanced.groups()
        if klass == "4":
            return False
        if (subject, detail) == ("2", "2"):  # mailbox full
            return False
        if subject == "1":  # addressing: unknown user, domain, bad syntax
            return True
        if subject == "7" and _RATE_LIMIT.search(text):  # 5.7.x naming a sending limit
            return False
    if code == MAILBOX_FULL_CODE or _MAILBOX_FULL.search(text):
        return False
    return not _RATE_LIMIT.search(text)
