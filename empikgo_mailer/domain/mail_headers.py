"""Header values of a reader's message, validated and bounded where they are read.

Whatever a header holds (a megabyte, CR LF hidden in an encoded word, NUL, bytes in no
declared charset), what leaves this module fits every database column and every line
of a reply: a value that cannot be made safe is dropped, never passed on.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.message import Message

MAX_TEXT = 500  # a subject or a display text; longer ones are cut
MAX_MESSAGE_ID = 250  # real ones are under 100; RFC 5322 lines end at 998
MAX_REFERENCES = 10  # the newest ones; enough to thread a reply in every client
_FOLDING = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MSG_ID = re.compile(rf"<([^<>\s]{{1,{MAX_MESSAGE_ID - 2}}})>")
_MSG_ID_TEXT = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


def _unescaped(value: str) -> str:
    """compat32 keeps 8-bit header bytes as surrogate escapes: UTF-8 as clients send it
    today (RFC 6532), else windows-1250, which older Polish clients used."""
    if value.isascii():
        return value
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1250", "replace")


class Headers:
    """Every header of a message by lower-case name, unfolded and unescaped: read once,
    looked up many times."""

    def __init__(self, message: Message) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in message.raw_items():
            text = _unescaped(str(value))
            if "\n" in text:
                text = _FOLDING.sub("", text)
            self._values.setdefault(key.lower(), []).append(text)

    def all(self, name: str) -> list[str]:
        """Every header called `name`, as it travelled (encoded words kept)."""
        return self._values.get(name.lower(), [])


def header_text(headers: Headers, name: str, limit: int = MAX_TEXT) -> str | None:
    """The first `name` header as text: RFC 2047 words decoded, control characters (CR LF
    and NUL included) removed, whitespace folded, at most `limit` characters. None when
    absent. Unknown charsets and broken encodings degrade to the raw text."""
    values = headers.all(name)
    if not values:
        return None
    text = values[0][: limit * 8]  # words are decoded from a bounded piece only
    if "=?" in text:
        text = _decoded_words(text)
    return " ".join(_CONTROL.sub(" ", text).split())[:limit]


def _decoded_words(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # the stdlib raises a zoo of errors on broken words: keep them raw
        return raw


def message_id(headers: Headers) -> str | None:
    """The Message-ID as `<...>`, or None when it is missing or not a sane msg-id (an
    absurd one would break the reply's In-Reply-To; the reply goes out unthreaded)."""
    values = headers.all("Message-ID")
    if len(values) != 1:
        return None
    match = _MSG_ID.fullmatch(values[0].strip())
    if match is None or not _MSG_ID_TEXT.fullmatch(match.group(1)):
        return None
    return match.group(0)


def references(headers: Headers) -> tuple[str, ...]:
    """The sane msg-ids of References, newest last, at most MAX_REFERENCES of them."""
    values = headers.all("References")
    found = [
        f"<{m.group(1)}>"
        for value in values[:1]
        for m in _MSG_ID.finditer(value[: 64 * 1024])
        if _MSG_ID_TEXT.fullmatch(m.group(1))
    ]
    return tuple(found[-MAX_REFERENCES:])


def storable(text: str, limit: int) -> str:
    """Text every database takes: no NUL (PostgreSQL refuses it), no lone surrogates
    (no UTF-8 encoder takes them), at most `limit` characters."""
    text = text[:limit].replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
