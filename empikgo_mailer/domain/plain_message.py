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

# A field name (printable ASCII but the colon, at least one character) and its colon; the
# stdlib's own header pattern, less the cases it treats as defects.
_FIELD = re.compile(r"[\041-\071\073-\176]+:")
# One line with its ending; the stdlib's parser ends lines at CR LF, CR or LF alike.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
_BLANK = frozenset(("\r\n", "\n", "\r"))


def parse_plain(raw: bytes) -> Message | None:
    """`email.message_from_bytes(raw)` for a plain single-part message; None for any other
    message, which the caller then gives to the stdlib parser."""
    text = raw.decode("ascii", "surrogateescape")  # as the stdlib's BytesParser does
    message = Message()
    field: list[str] = []  # the lines of the header being read
    for line_match in _LINE.finditer(text):
        line = line_match.group()
        if line in _BLANK:
            if field:
                _store(message, field)
            if message.get_content_maintype() in ("multipart", "message"):
                return None
            message.set_payload(text[line_match.end() :])
            return message
        if line[0] in " \t":
            if not field:
                return None  # a continuation with nothing to continue: a defect
            field.append(line)
        elif line.startswith("From ") or _FIELD.match(line) is None:
            return None  # an envelope line, or where the stdlib would start the body
        else:
            if field:
                _store(message, field)
            field = [line]
    return None  # no blank line after the headers


def _store(message: Message, lines: list[str]) -> None:
    # compat32's header_source_parse: the value after the colon, leading blanks off, the
    # continuation lines as they are, the final line ending off.
    name, value = lines[0].split(":", 1)
    value = value.lstrip(" \t") + "".join(lines[1:])
    message.set_raw(name, value.rstrip("\r\n"))
