"""The stdlib's parse of a plain, single-part message, without the stdlib's parser.

Nearly every request is a short text/plain message, and `email.message_from_bytes` spends
most of its 40 µs on the feed parser's line machinery. For such a message the result is
simple: every header as compat32 stores it, and the body, undecoded, as the payload.
`parse_plain` builds exactly that in about a quarter of the time, and gives up (None) on
anything where the stdlib parser would do more: multipart and message/* bodies, a Unix
"From " line, a line that is neither a header nor a continuation, no blank line after
the headers. `tests/unit/test_plain_message.py` holds it to the stdlib's result.
"""

from __future__ import annotations

import re
from email.message import Message

# One header field: its name (printable ASCII but the colon, the stdlib's own header
# pattern less the cases it treats as defects), the blanks after the colon, then the
# value with its continuation lines, and the final line ending. Lines end at CR LF, CR
# or LF alike, as in the stdlib's parser. One match a field, not a Python step a line.
_FIELD = re.compile(
    r"([\041-\071\073-\176]+):[ \t]*([^\r\n]*(?:(?:\r\n|\r|\n)[ \t][^\r\n]*)*)(?:\r\n|\r|\n)"
)
_BLANK = re.compile(r"\r\n|\r|\n")


def parse_plain(raw: bytes) -> Message | None:
    """`email.message_from_bytes(raw)` for a plain single-part message; None for any other
    message, which the caller then gives to the stdlib parser."""
    text = raw.decode("ascii", "surrogateescape")  # as the stdlib's BytesParser does
    message = Message()
    field = _FIELD.match
    position = 0
    while (found := field(text, position)) is not None:
        # compat32's header_source_parse: the value after the colon, leading blanks off,
        # the continuation lines as they are, the final line ending off.
        message.set_raw(found[1], found[2])
        position = found.end()
    blank = _BLANK.match(text, position)
    if blank is None:
        # A continuation with nothing to continue, an envelope "From " line, a line the
        # stdlib would start the body with, or no blank line after the headers.
        return None
    if message.get_content_maintype() in ("multipart", "message"):
        return None
    message.set_payload(text[blank.end() :])
    return message
