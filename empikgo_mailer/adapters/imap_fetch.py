"""The collector's FETCH answers, read without imapclient's general parser where they
have the usual shape.

imapclient reads a FETCH answer with a general lexer and parser: about 60 µs a message,
more than reading the e-mail itself, on a month's first morning of 10,000 requests. The
collector asks only for `RFC822.SIZE INTERNALDATE` and then for `BODY.PEEK[]` (or
`[HEADER]`), and servers answer those in one shape: `* 7 FETCH (UID 42 RFC822.SIZE 296
INTERNALDATE "01-Nov-2026 00:00:01 +0100")`, and `* 7 FETCH (UID 42 BODY[] {296}` with
the message as a literal. Those are read here with one regular expression each. Any other
answer (an unsolicited FLAGS, the items in another order, NIL, a quoted string instead
of a literal, a literal of the wrong length, a UID twice) goes to imapclient's parser
whole, so the result is always what imapclient would have given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from imapclient.datetime_util import parse_to_datetime
from imapclient.response_parser import parse_fetch_response

Fetched = dict[int, dict[bytes, Any]]

_META = re.compile(rb'(\d+) \(UID (\d+) RFC822\.SIZE (\d+) INTERNALDATE "([^"\\]*)"\)')
_PART = re.compile(rb"(\d+) \(UID (\d+) (BODY\[(?:HEADER)?\]) \{(\d+)\}")


def read_fetch(data: Sequence[Any], uids: Sequence[int]) -> Fetched:
    """imaplib's untagged FETCH data, as imapclient's `fetch` returns it: per UID asked
    for, its items (and b"SEQ"); answers for other messages are dropped."""
    found = _meta(data) if data and isinstance(data[0], bytes) else _parts(data)
    if found is None:
        found = parse_fetch_response(list(data), False, True)
    return {uid: found[uid] for uid in uids if uid in found}


def _meta(data: Sequence[Any]) -> Fetched | None:
    found: Fetched = {}
    for line in data:
        match = _META.fullmatch(line) if isinstance(line, bytes) else None
        if match is None:
            return None
        seq, uid, size, when = match.groups()
        if int(uid) in found:
            return None
        try:
            received = parse_to_datetime(when, normalise=False)
        except ValueError:
            return None
        found[int(uid)] = {b"SEQ": int(seq), b"RFC822.SIZE": int(size), b"INTERNALDATE": received}
    return found


def _parts(data: Sequence[Any]) -> Fetched | None:
    found: Fetched = {}
    if len(data) % 2:
        return None
    for start in range(0, len(data), 2):
        head, closing = data[start], data[start + 1]
        if not (isinstance(head, tuple) and len(head) == 2 and closing == b")"):
            return None
        prefix, literal = head
        match = _PART.fullmatch(prefix) if isinstance(prefix, bytes) else None
        if match is None or not isinstance(literal, bytes):
            return None
        seq, uid, item, length = match.groups()
        if int(length) != len(literal) or int(uid) in found:
            return None
        found[int(uid)] = {b"SEQ": int(seq), item: literal}
    return found
