"""What a reply says and how it is addressed: outcome -> template context, and the
RFC 5322 message around the rendered text (threading and loop-prevention headers)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email import base64mime, quoprimime
from email.charset import QP, Charset
from email.message import Message
from email.quoprimime import body_encode
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache

from empikgo_mailer.domain.addresses import valid_address
from empikgo_mailer.domain.explanations import CHANNEL_LABELS
from empikgo_mailer.domain.money import format_pln
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.polish import (
    day_text,
    moment_text,
    month_genitive,
    month_locative,
    month_name,
)

Render = Callable[..., str]
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


@dataclass(frozen=True)
class ReplyFacts:
    """Everything a reply may mention, already in the library's time zone."""

    branch_name: str
    branch_address: str
    received: datetime
    month: Month  # the month of the decision
    platform: Platform = Platform.EMPIK_GO
    card: str | None = None
    cards: tuple[str, ...] = ()
    code: str | None = None
    activation_url: str = ""
    details: Mapping[str, object] | None = None
    size_bytes: int = 0
    limit_bytes: int = 0


def megabytes(size: int) -> str:
    """'10', '2,5', '0,06': as many decimals as a reader needs, with a Polish comma."""
    value = size / 2**20
    digits = 0 if value >= 10 else 1 if value >= 1 else 2
    return f"{value:.{digits}f}".replace(".", ",")


def _platform(value: object) -> str:
    return value.display_name if isinstance(value, Platform) else "Empik Go"


def reply_context(facts: ReplyFacts) -> dict[str, object]:
    details = dict(facts.details or {})
    confirmed = details.get("confirmed_on")
    cause, last = details.get("cause"), details.get("last")
    earlier_at = details.get("issued_at")
    channel = details.get("channel")
    owed = details.get("outstanding_grosze")
    return {
        "branch": {"name": facts.branch_name, "address": facts.branch_address},
        "received": moment_text(facts.received),
        "platform": facts.platform.display_name,
        "code": facts.code,
        "activation_url": facts.activation_url,
        "last_day": day_text(facts.month.last_day),
        "month": month_name(facts.month),
        "month_locative": month_locative(facts.month),
        "next_month_first": day_text(facts.month.plus(1).first_day),
        "card": facts.card or "",
        "cards": list(facts.cards),
        "confirmed_on": day_text(confirmed) if confirmed is not None else "brak",  # type: ignore[arg-type]
        "amount": format_pln(owed) if isinstance(owed, int) and owed > 0 else "",
        "debt_where": details.get("why") or "",
        "cause": month_name(cause) if isinstance(cause, Month) else "",
        "ban_last": month_genitive(last) if isinstance(last, Month) else "",
        "ban_over": day_text(last.plus(1).first_day) if isinstance(last, Month) else "",
        "earlier_platform": _platform(details.get("platform")),
        "earlier_channel": CHANNEL_LABELS[channel] if isinstance(channel, Channel) else "",
        "earlier_at": moment_text(earlier_at) if isinstance(earlier_at, datetime) else "",
        "size_mb": megabytes(facts.size_bytes),
        "limit_mb": megabytes(facts.limit_bytes),
    }


_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,248}>")  # printable ASCII but < and >
# Every ASCII character str.splitlines breaks at: email.header folds a header at each.
_LINE_BREAK = re.compile(r"[\n\r\v\f\x1c-\x1e]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_THREAD = 10


def reply_subject(original: str) -> str:
    subject = " ".join(original.split())[:200] or "EMPIK GO"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


_LINE = 76  # RFC 2047 section 2: a line holding an encoded word (one is at most 75)
_FRAME = len("=?utf-8?q??=")
# RFC 5322 atext: a word a display name may hold as it is, without quotes.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


def _plain(value: str) -> bool:
    """ASCII that no reader would decode as an encoded word: written as it is."""
    return value.isascii() and "=?" not in value


@cache
def _q_width(char: str) -> int:
    return quoprimime.header_length(char.encode("utf-8"))


def _encoded_run(run: str, room: int) -> list[str]:
    """`run` as RFC 2047 UTF-8 encoded words, each with at most `room` characters between
    its frame and holding whole characters (section 5); a long run is cut after a space
    where it has one. Q unless base64 is shorter: the stdlib's choice (Charset SHORTEST)."""
    data = run.encode("utf-8")
    base64 = base64mime.header_length(data) < quoprimime.header_length(data)
    encode = base64mime.header_encode if base64 else quoprimime.header_encode
    words: list[str] = []
    start = after_space = 0  # the current word's first character; after its last space
    octets = q_size = 0  # the current word's UTF-8 length and Q length
    octets_at_space = q_at_space = 0
    for index, char in enumerate(run):
        width, q_width = len(char.encode("utf-8")), _q_width(char)
        while (
            index > start and ((octets + width + 2) // 3 * 4 if base64 else q_size + q_width) > room
        ):
            cut = after_space if after_space > start else index
            words.append(encode(run[start:cut].encode("utf-8"), "utf-8"))
            if cut == index:
                octets = q_size = 0
            else:
                octets, q_size = octets - octets_at_space, q_size - q_at_space
            start = after_space = cut
        octets, q_size = octets + width, q_size + q_width
        if char == " ":
            after_space, octets_at_space, q_at_space = index + 1, octets, q_size
    words.append(encode(run[start:].encode("utf-8"), "utf-8"))
    return words


def _encoded_words(value: str, header: str, *, phrase: bool = False, tail: str = "") -> str:
    """`value` for header `header`: the words that need it as RFC 2047 encoded words, each
    at most 75 characters, the others as they are, then `tail` as it is, folded between
    them so that no line is longer than 76 characters (the first one holds "`header`: ")
    unless a plain word alone is longer. `phrase`: a display name, whose plain words must
    be atoms.

    Neighbouring words that need encoding share encoded words: readers' clients drop the
    space between two encoded words (section 6.2) but keep the one between an encoded word
    and a plain one, so "Młodzieży nr 63" reads the same in every client, including
    Python's own parser, which keeps the space between encoded words of a display name.

    Written here, not by email.header.Header: its folding lets a word reach 76-78
    characters, and str() of a Header decodes it back to Unicode, which formataddr then
    wrote as one word of any length (77 characters for the branch "nr 63")."""
    words = value.split(" ")
    to_encode = [not _plain(word) or (phrase and _ATOM.fullmatch(word) is None) for word in words]
    for index, word in enumerate(words):
        if not word:  # a space beside another or at an end (a subject cut after one)
            # ... which only an encoded word keeps: in one with a neighbouring word.
            to_encode[index] = True
            to_encode[index - 1 if index else min(1, len(words) - 1)] = True
    tokens: list[tuple[bool, str]] = []  # (to be encoded, text)
    for word, encode in zip(words, to_encode, strict=True):
        if encode and tokens and tokens[-1][0]:
            tokens[-1] = (True, f"{tokens[-1][1]} {word}")
        else:
            tokens.append((encode, word))
    # Every encoded word fits the first line behind the header's name, and so any line.
    room = min(_LINE - 1, _LINE - len(header) - 2) - _FRAME
    pieces = [
        piece
        for encoded, text in tokens
        for piece in (_encoded_run(text, room) if encoded else (text,))
    ]
    if tail:
        pieces.append(tail)
    folded = [pieces[0]]
    used = len(header) + 2 + len(pieces[0])
    for piece in pieces[1:]:
        if used + 1 + len(piece) <= _LINE:
            folded.append(" ")
            used += 1 + len(piece)
        else:
            folded.append("\n ")
            used = 1 + len(piece)
        folded.append(piece)
    return "".join(folded)


def _header_text(value: str, header: str = "Subject") -> str:
    """ASCII as it is; anything else with RFC 2047 encoded words."""
    return value if _plain(value) else _encoded_words(value, header)


@dataclass(frozen=True)
class ComposedReply:
    message_id: str
    text: str  # the whole RFC 5322 message (LF line ends; the SMTP client sends CRLF)


def _msg_ids(values: list[str | None]) -> list[str]:
    """Only sane `<...>` ids, the newest MAX_THREAD of them, each on its own folded line
    when joined: a References header then never exceeds RFC 5322's line limit."""
    found = [match.group(0) for value in values if value for match in _MSG_ID.finditer(value)]
    return found[-MAX_THREAD:]


def compose_reply(
    *,
    text: str,
    from_name: str,
    from_address: str,
    to_address: str,
    original_subject: str,
    original_message_id: str | None,
    original_references: str | None,
    now: datetime,
) -> ComposedReply:
    """A text/plain UTF-8 reply (quoted-printable: readable in any client's source view).

    Written out by hand (`reply_headers`, `_flattened`): the stdlib's Message and its
    generator spent most of a decision's time on headers we already know to be short.
    The recipient and the threading headers are written here too: compat32 would turn an
    internationalised address into encoded words and leave a long References unfolded.
    """
    if not valid_address(to_address):
        raise ValueError("a reply goes only to a plain, valid address")
    message_id = make_msgid("empikgo", domain=from_address.rpartition("@")[2] or None)
    headers = reply_headers(
        from_name=from_name,
        from_address=from_address,
        subject=original_subject,
        message_id=message_id,
        now=now,
    )
    lines = [f"To: {to_address}"]
    in_reply_to = _msg_ids([original_message_id])
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to[-1]}")
        thread = _msg_ids([original_references, original_message_id])
        lines.append("References: " + "\n ".join(thread))
    return ComposedReply(message_id, "\n".join(lines) + "\n" + _flattened(headers, text))


def reply_headers(
    *, from_name: str, from_address: str, subject: str, message_id: str, now: datetime
) -> list[tuple[str, str]]:
    """The reply's own headers, in the order the stdlib's Message would hold them after
    `set_payload(text, utf-8 quoted-printable)` and our assignments."""
    return [
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
        ("From", _from(from_name, from_address)),
        ("Subject", _header_text(reply_subject(subject))),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id),
        # RFC 3834: we are an automatic responder; Outlook: do not auto-reply to us.
        ("Auto-Submitted", "auto-replied"),
        ("X-Auto-Response-Suppress", "All"),
    ]


def display_name(name: str) -> str:
    """A branch's name as the From line shows it: one line of words. A control character
    in the configured name (a slip) would break the header; Python 3.12.5+ and the
    distributions' patched 3.11 and 3.12 refuse to write such a header at all."""
    return " ".join(_CONTROL.sub(" ", name).split())


@cache
def _from(name: str, address: str) -> str:
    """A branch's From line: one of a handful in a whole installation, encoded once."""
    shown = display_name(name)
    if _plain(shown):
        return formataddr((shown, address))
    # The address on the last line of the name when it fits there, else on its own.
    return _encoded_words(shown, "From", phrase=True, tail=f"<{address}>")


def reply_message(headers: list[tuple[str, str]], text: str) -> Message:
    """The same reply as the stdlib's compat32 Message: what `_flattened` must equal."""
    message = Message()
    message["MIME-Version"] = "1.0"
    message.set_payload(text, _UTF8_QP)  # sets Content-Type and quoted-printable encoding
    for name, value in headers:
        if name not in message:  # the MIME headers set_payload wrote itself
            message[name] = value
    return message


def _flattened(headers: list[tuple[str, str]], text: str) -> str:
    """What `reply_message(headers, text).as_string()` gives, at a fraction of its cost:
    every header here is already ASCII (encoded words where needed), folded only by
    `_encoded_words` and `_from` ("\n " between words), which compat32's generator,
    unfolding (as_string's maxheaderlen=0), writes unchanged after running each one
    through email.header; the body is the stdlib's own quoted-printable encoding of the
    UTF-8 text, with LF line ends."""
    if not all(
        value.isascii() and not _LINE_BREAK.search(value.replace("\n ", " "))
        for _, value in headers
    ):
        # No header we write gets here; the stdlib's generator is the reference anyway.
        return reply_message(headers, text).as_string()
    # Charset.body_encode's own steps: quoprimime works on the UTF-8 bytes as latin-1.
    body = body_encode(text.encode("utf-8").decode("latin-1")) if text else text
    return "".join(f"{name}: {value}\n" for name, value in headers) + "\n" + body
