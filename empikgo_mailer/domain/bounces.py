"""Delivery reports: is this message a reply of ours coming back, and is it back for good?

`read_bounce` reads any bytes into a `BounceReading`, or None when the message is not a
delivery report about a failure (a request, an auto-reply, a read receipt, a report
that only says "delivered"). It never raises. It reads, in this order of trust:
- the RFC 3464 report (multipart/report with message/delivery-status, what Postfix,
  Exim 4.8x+, Exchange, Gmail and most servers send): each recipient's Action, Status
  and Diagnostic-Code;
- otherwise the text of the common non-standard bounces (classic Exim and qmail text,
  Exchange's and Gmail's human-readable parts, a report a gateway stripped): the
  subject, the sender (MAILER-DAEMON, postmaster) and the server's answer quoted in
  the text.
Whether a failure is for good is `smtp_answers.classify`'s reading of the answer, the
same the SMTP sender uses: a full mailbox or a relay's rate limit is not permanent
(RULES §8), nor is an Action: delayed report.

Which reply came back is told by the returned original's Message-ID (normalised as
`mail_headers.message_id` stores ids) and, more surely, by a per-reply return path:
a reply sent with the envelope sender `dwm+r42@domain` bounces to that address, which
the mailbox server writes into Delivered-To / X-Original-To / Envelope-To and the
report into To, so the reply's id (42) comes back with it (`ReturnPathPattern`).
Both come from the message's headers: a forged report can name any id, so the caller
should act on a reading only when the id and the Message-ID agree with its records.

flufl.bounce (Mailman's bounce detectors) was tried and is not used: it answers only
"which addresses failed", as bytes, with no status, diagnostic or original Message-ID;
it counts a full mailbox in a failed DSN as permanent, misses Exchange's Polish and
Gmail's one-line texts, and raises on hostile input (IndexError on a message without
a From header, in its Yale detector). What it would add, the addresses in rare old
formats, is informational here; the reply is found by its id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser

from empikgo_mailer.domain.mail_headers import Headers, header_text, message_id, storable
from empikgo_mailer.domain.mail_text import html_to_text, part_text
from empikgo_mailer.domain.smtp_answers import Refusal, classify, enhanced_status

MAX_BYTES = 1024 * 1024  # a report with our small reply attached is a few kilobytes
MAX_TEXT = 64 * 1024  # of the human-readable text that is searched
MAX_DIAGNOSTIC = 300
MAX_RECIPIENTS = 10
MAX_IDS = 5
MAX_ADDRESS = 254
MAX_DEPTH = 8  # a report nests 3 levels; deeper parts are not read
MAX_PARTS = 100
MAX_BLOCKS = 50  # per-recipient blocks of one message/delivery-status

_REPORT_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ORIGINAL_TYPES = frozenset({"message/rfc822", "message/global"})
_ORIGINAL_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})

# Subjects of failure reports: Postfix, Exchange (English, Polish, German), Gmail, Exim,
# sendmail, qmail and friends. At the start of the subject: "Re: Undeliverable" is a
# person's reply, not a report. Gateways may put a tag in front ("[SPAM?]").
_TAGS = r"^\s*(?:\[[^\]]{0,40}\]\s*)*"
_FAILURE_SUBJECT = re.compile(
    _TAGS + r"(?:undelivered mail|undeliverable|undelivered|niedostarczalne|niedostarczon"
    r"|nie można dostarczyć|nie dostarczono|unzustellbar"
    r"|delivery status notification(?! \((?:success|relay))"
    r"|mail delivery failed|delivery has failed|delivery failed|delivery failure"
    r"|failure notice|returned mail|mail system error|message not delivered"
    r"|non-?delivery|nondeliverable|delivery notification)",
    re.IGNORECASE,
)
# Reports that the delivery is only late: not a failure, whatever follows.
_DELAY = re.compile(
    r"\(delay\)|delayed mail|delivery delayed|opóźnion|still being retried"
    r"|warning only|will be retried|will continue trying|has not yet been delivered"
    r"|^warning: message .{0,60} delayed",
    re.IGNORECASE | re.MULTILINE,
)
# The text of a failure, for a message from a mailer daemon whose subject says nothing
# (an old Gmail bounce keeps the original subject).
_FAILURE_TEXT = re.compile(
    r"failed permanently|permanent (?:error|failure)|could\s?n[o']t\s+be\s+delivered"
    r"|was\s?n[o']t\s+delivered|delivery has failed|undeliverable"
    r"|address(?:es)? failed|user unknown|no such user|does not exist|address not found"
    r"|nie można dostarczyć|niedostarczon|nie istnieje",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"(?:mailer-daemon|postmaster|microsoftexchange[0-9a-f]{32})@", re.IGNORECASE)
# Where the returned original starts in a text-only bounce (Exim, qmail, old Gmail,
# Exchange's "original message headers"): the Message-ID is looked for after it.
_COPY_MARKER = re.compile(
    r"^.*(?:this is a copy of the message|copy of the message follows"
    r"|below this line is a copy of the message|original message (?:headers|follows)"
    r"|-{3,} ?original message ?-{3,}|oryginalne nagłówki wiadomości).*$",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED_MESSAGE_ID = re.compile(
    r"^[ \t>]*Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]{1,248}>)", re.IGNORECASE | re.MULTILINE
)
# The server's answer quoted in a text: a reply code with an enhanced code ("550 5.1.1",
# Exchange's "#550 5.1.1 ... ##" and "returned '550 5.1.10 ...'"), or a bare reply code
# where a text announces one ("said: 550 ...", "RCPT TO:<x>:\n 550 ...").
_ANSWER = re.compile(
    r"(?<![\w.#-])#?([45]\d\d)[ -]#?([245]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)"
    r"|(?:said|returned|response was|error[^\n]{0,80}?):\s*'?\s*([45]\d\d)(?=[ -])",
    re.IGNORECASE,
)
_ANSWER_END = re.compile(r"'[ \t]*(?:\n|$)|[ \t]*##|\n[ \t]*\n")
_IN_REPLY_TO = re.compile(r"\s*\(in reply to [^)]*\)\s*$", re.IGNORECASE)
_REPLY_CODE = re.compile(r"(\d{3})[ -](?:#?([245]\.\d{1,3}\.\d{1,3})\s+)?")
# Recipients announced in a text-only bounce: Exim, Exchange (English, Polish), Gmail,
# Postfix's own notification ("<x@y>: host ... said"), old Gmail, qmail.
_ADDRESS = r"<?([^\s<>\"'@:,;()\[\]]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63})\b>?"
_ANNOUNCED_RECIPIENT = re.compile(
    r"(?:following address\(es\) failed:|recipients or groups:|adresatów lub grup:"
    r"|wasn't delivered to|was not delivered to|recipient failed permanently:"
    r"|could not be delivered to:)\s*" + _ADDRESS,
    re.IGNORECASE,
)
# A line that is an address alone, or Postfix's "<jan@example.com>: host ... said".
_RECIPIENT_LINE = re.compile(r"^[ \t]*" + _ADDRESS + r"(?=:[ \t]|[ \t]*$|<mailto:)", re.MULTILINE)
_ADDR_SPEC = re.compile(_ADDRESS)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ReturnPathPattern:
    """A per-reply return path: `branch` + `separator` + `prefix` + id @ domain, e.g.
    dwm+r42@bpmokotow.waw.pl (the separator is the mail server's recipient delimiter,
    so the bounce lands in the branch's mailbox)."""

    separator: str = "+"
    prefix: str = "r"

    def __post_init__(self) -> None:
        if len(self.separator) != 1 or not re.fullmatch(r"[+\-_.=]", self.separator):
            raise ValueError(f"a return path separator is one of + - _ . = ({self.separator!r})")
        if not re.fullmatch(r"[A-Za-z]{0,10}", self.prefix):
            raise ValueError(f"a return path prefix is a few letters ({self.prefix!r})")

    def address(self, mailbox: str, reply_id: int) -> str:
        """The envelope sender of reply `reply_id` sent from `mailbox` (user@domain)."""
        if reply_id < 1:
            raise ValueError("a reply id is a positive number")
        local, at, domain = mailbox.rpartition("@")
        if not at or not local or not domain:
            raise ValueError(f"not a mailbox address: {mailbox!r}")
        return f"{local}{self.separator}{self.prefix}{reply_id}@{domain}"

    def reply_id(self, address: str) -> int | None:
        """The reply id an address carries, None when it carries none."""
        address = address.strip().strip("<>").strip()
        local, at, _domain = address.rpartition("@")
        base, separator, tag = local.rpartition(self.separator)
        if not at or not separator or not base:
            return None
        if tag[: len(self.prefix)].lower() != self.prefix.lower():
            return None
        digits = tag[len(self.prefix) :]
        if not re.fullmatch(r"[1-9][0-9]{0,17}", digits):
            return None  # a canonical number only: no sign, no leading zeros, int64
        return int(digits)


DEFAULT_RETURN_PATH = ReturnPathPattern()


@dataclass(frozen=True)
class BounceReading:
    """What a delivery report says about one of our replies."""

    permanent: bool  # refused for good; False for a delay, a full mailbox, a rate limit
    recipients: tuple[str, ...]  # the addresses that failed (at most MAX_RECIPIENTS)
    original_message_ids: tuple[str, ...]  # of the returned reply, surest first, "<...>"
    status: str | None  # RFC 3463, e.g. "5.1.1"
    diagnostic: str  # the server's answer, one line, for staff
    reply_id: int | None  # from a per-reply return path (ReturnPathPattern)


@dataclass(frozen=True)
class _Failure:
    """One recipient's outcome in a report."""

    recipient: str | None
    refusal: Refusal
    status: str | None
    diagnostic: str


@dataclass
class _Parts:
    """The parts of a report that matter, found in one walk."""

    blocks: list[Headers]  # message/delivery-status header blocks
    text: list[str]  # text/plain parts outside the returned message
    html: list[str]  # text/html parts, read when there is no plain text
    originals: list[Headers]  # the returned message's headers


def read_bounce(
    raw: bytes, *, return_path_pattern: ReturnPathPattern = DEFAULT_RETURN_PATH
) -> BounceReading | None:
    """The reading of a delivery report about a failure; None for any other message."""
    try:
        return _read(raw[:MAX_BYTES], return_path_pattern)
    except Exception:
        # Every step is written not to raise, and the fuzz tests hold it to that; this
        # is the last guard of a daemon that must not stop on one message: the stdlib's
        # parser and codecs raise a zoo of errors on hostile mail.
        return None


def _read(raw: bytes, pattern: ReturnPathPattern) -> BounceReading | None:
    message = _parsed(raw)
    headers = Headers(message)
    parts = _walk(message)
    text = _human_text(parts)
    human, _, quoted = _split_copy(text)
    subject = header_text(headers, "Subject") or ""
    failures = _report_failures(parts.blocks)
    if not failures and any(_field(block, "Action", 100) for block in parts.blocks):
        return None  # a report that every recipient got it ("delivered", "relayed")
    if not failures:
        if not _looks_like_bounce(headers, subject, human):
            return None
        failures = [_text_failure(headers, subject, human)]
    permanent = [f for f in failures if f.refusal is Refusal.PERMANENT]
    chosen = permanent or failures
    first = chosen[0]
    diagnostic = (
        first.diagnostic
        or _text_answer(human)[1]
        or " ".join(filter(None, [first.status, _failure_sentence(human)]))
        or subject
    )
    recipients = _unique(f.recipient for f in chosen if f.recipient is not None)
    if not recipients:
        recipients = _text_recipients(headers, human)
    return BounceReading(
        permanent=bool(permanent),
        recipients=recipients[:MAX_RECIPIENTS],
        original_message_ids=_original_ids(headers, parts, quoted or text),
        status=first.status,
        diagnostic=_one_line(diagnostic),
        reply_id=_reply_id(headers, parts, pattern),
    )


def _parsed(raw: bytes) -> Message:
    """The whole message; its headers alone when the body defeats the parser."""
    try:
        return message_from_bytes(raw)
    except Exception:
        headers_only = BytesHeaderParser().parsebytes(raw)
        headers_only.set_payload("")
        return headers_only


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # a broken parameter: as if nothing were declared
        return "text/plain"


def _attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment"
    except Exception:
        return False


def _decoded(part: Message) -> str:
    return part_text(part, MAX_TEXT)


def _walk(message: Message) -> _Parts:
    """The report's parts, depth-first without recursion. A returned message is read for
    its headers only, never walked: a report attached to a reader's forward is not ours."""
    found = _Parts(blocks=[], text=[], html=[], originals=[])
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        content_type = _content_type(part)
        if content_type in _REPORT_TYPES:
            found.blocks.extend(_blocks(part))
        elif content_type in _ORIGINAL_TYPES:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found.originals.append(Headers(payload[0]))
            else:
                found.originals.append(_headers_of(_decoded(part)))
        elif content_type in _ORIGINAL_HEADER_TYPES:
            found.originals.append(_headers_of(_decoded(part)))
        elif part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list) and depth < MAX_DEPTH:
                children = [child for child in payload if isinstance(child, Message)]
                stack.extend((child, depth + 1) for child in reversed(children))
        elif content_type == "text/plain" and not _attachment(part):
            found.text.append(_decoded(part))
        elif content_type == "text/html" and not _attachment(part):
            found.html.append(_decoded(part))
    return found


def _headers_of(text: str) -> Headers:
    parsed = BytesHeaderParser().parsebytes(text.encode("utf-8", "surrogateescape"))
    return Headers(parsed)


def _blocks(part: Message) -> list[Headers]:
    """The header blocks of a message/delivery-status part: parsed by the stdlib into
    messages, or (RFC 6533's global type, an encoded part) split here."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [Headers(block) for block in payload[:MAX_BLOCKS] if isinstance(block, Message)]
    text = _decoded(part).replace("\r\n", "\n")
    return [_headers_of(block) for block in re.split(r"\n[ \t]*\n", text)[:MAX_BLOCKS]]


def _human_text(parts: _Parts) -> str:
    texts = parts.text or [html_to_text(html) for html in parts.html]
    return "\n\n".join(texts)[:MAX_TEXT].replace("\r\n", "\n")


def _split_copy(text: str) -> tuple[str, bool, str]:
    """The bounce's own words, and the returned original quoted after them (if any)."""
    marker = _COPY_MARKER.search(text)
    if marker is None:
        return text, False, ""
    return text[: marker.start()], True, text[marker.end() :]


def _field(block: Headers, name: str, limit: int = 2000) -> str:
    values = block.all(name)
    return " ".join(_CONTROL.sub(" ", values[0][:limit]).split()) if values else ""


def _report_failures(blocks: list[Headers]) -> list[_Failure]:
    """Each recipient the report says failed or is delayed, as `classify` reads it."""
    failures = []
    for block in blocks:
        action = _field(block, "Action", 100).lower()
        status_field = _field(block, "Status", 300)
        status = enhanced_status(status_field) if status_field else None
        if not action and block.all("Final-Recipient"):
            # No Action (a broken report): the status's class says what happened.
            action = {"4": "delayed", "5": "failed"}.get((status or "")[:1], "")
        if action.startswith("delayed"):
            delayed = True
        elif action.startswith(("failed", "failure", "error")):  # opensmtpd: "error"
            delayed = False
        else:
            continue  # delivered, relayed, expanded, or a per-message block
        # Some servers give the reason only as a comment of the Status: "5.0.0
        # (recipient reached disk quota)".
        diagnostic = _diagnostic(block.all("Diagnostic-Code")[:1]) or (
            status_field if status and status_field.strip() != status else ""
        )
        code = _reply_code(diagnostic)
        # "failed" without a reply code: the server gave up, as after a 5xx; only the
        # status or the words can still make it temporary (a full mailbox, a 4.x.x).
        refusal = (
            Refusal.TEMPORARY
            if delayed
            else classify(code if code is not None else 550, diagnostic, status=status)
        )
        if status is None:
            status = enhanced_status(diagnostic)
        if diagnostic and status and code is None and status not in diagnostic:
            diagnostic = f"{status} {diagnostic}"
        recipient = _recipient(_field(block, "Original-Recipient", 600)) or _recipient(
            _field(block, "Final-Recipient", 600)
        )
        failures.append(_Failure(recipient, refusal, status, diagnostic))
    return failures


def _diagnostic(values: list[str]) -> str:
    """A Diagnostic-Code without its type ("smtp; "), on one line, without the reply
    code that a multi-line answer repeats on every line ("550-5.1.1 ...")."""
    if not values:
        return ""
    text = values[0][:4000]
    kind, semicolon, rest = text.partition(";")
    if semicolon and re.fullmatch(r"\s*[A-Za-z][\w.-]{0,30}\s*", kind):
        text = rest
    return _joined(text)


def _joined(answer: str) -> str:
    """An SMTP answer on one line: "550-5.1.1 a\\n550-5.1.1 b\\n550 5.1.1 c" is
    "550 5.1.1 a b c"."""
    text = " ".join(_CONTROL.sub(" ", answer).split())
    leading = _REPLY_CODE.match(text)
    if leading is not None:
        repeated = rf"\s{leading.group(1)}[ -]" + (
            rf"#?{re.escape(leading.group(2))}\s" if leading.group(2) else ""
        )
        head, body = text[: leading.end()], text[leading.end() :]
        text = head[:3] + " " + head[4:] + re.sub(repeated, " ", body)
    return " ".join(text.split())


def _reply_code(diagnostic: str) -> int | None:
    leading = re.match(r"\s*#?([245]\d\d)(?:[ -]|$)", diagnostic)
    return int(leading.group(1)) if leading is not None else None


def _recipient(value: str) -> str | None:
    """The address of a (Final|Original)-Recipient field: "rfc822; jan@example.com"."""
    if not value:
        return None
    _kind, _, address = value.rpartition(";")
    return _address(address)


def _address(text: str) -> str | None:
    found = _ADDR_SPEC.search(text.strip()[: MAX_ADDRESS + 2])
    if found is None or len(found.group(1)) > MAX_ADDRESS:
        return None
    return found.group(1).rstrip(".")


def _looks_like_bounce(headers: Headers, subject: str, human: str) -> bool:
    """A failure report without a delivery-status part: by its subject, Exim's header,
    or a mail daemon's message whose text tells of a failure or a delay."""
    if _FAILURE_SUBJECT.search(subject) or _DELAY.search(subject):
        return True
    if headers.all("X-Failed-Recipients"):
        return True
    sender = header_text(headers, "From") or ""
    return bool(_DAEMON.search(sender)) and bool(
        _FAILURE_TEXT.search(human) or _DELAY.search(human)
    )


def _text_failure(headers: Headers, subject: str, human: str) -> _Failure:
    """A non-standard bounce read from its words: the server's answer where it is quoted,
    else what the text says (late, or failed and given up)."""
    code, answer = _text_answer(human)
    status = enhanced_status(answer) if answer else None
    if _DELAY.search(subject) or _DELAY.search(human[:4000]):
        refusal = Refusal.TEMPORARY
    elif answer:
        refusal = classify(code, answer, status=status)
    else:
        # No answer quoted: the server gave up. Only its words can say it is a full
        # mailbox or a limit that lifts.
        refusal = classify(550, human[:4000])
    recipients = _text_recipients(headers, human)
    return _Failure(recipients[0] if recipients else None, refusal, status, answer)


def _text_answer(human: str) -> tuple[int | None, str]:
    """The first server answer quoted in the text, and its reply code."""
    found = _ANSWER.search(human)
    if found is None:
        return None, ""
    code = int(found.group(1) or found.group(3))
    start = found.start(1) if found.group(1) else found.start(3)
    rest = human[start : start + 2000]
    end = _ANSWER_END.search(rest)
    answer = rest[: end.start()] if end is not None else rest
    return code, _IN_REPLY_TO.sub("", _joined(answer).rstrip("'# "))


def _failure_sentence(human: str) -> str:
    """The paragraph of a bounce's text that tells of the failure (when no answer is
    quoted), on one line."""
    found = _FAILURE_TEXT.search(human)
    if found is None:
        return ""
    start = human.rfind("\n\n", 0, found.start()) + 1
    end = human.find("\n\n", found.end())
    return " ".join(human[start : end if end >= 0 else len(human)][:1000].split())


def _text_recipients(headers: Headers, human: str) -> tuple[str, ...]:
    """Exim's X-Failed-Recipients, else the addresses the text announces."""
    found: list[str] = []
    for value in headers.all("X-Failed-Recipients")[:3]:
        found.extend(
            address for piece in value[:4000].split(",") if (address := _address(piece)) is not None
        )
    text = human[:16_000]
    if not found:
        found = [m.group(1) for m in _ANNOUNCED_RECIPIENT.finditer(text)]
    if not found:
        found = [m.group(1) for m in _RECIPIENT_LINE.finditer(text)]
    return _unique(found)


def _unique(addresses: Iterator[str] | list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    unique = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return tuple(unique[:MAX_RECIPIENTS])


def _normalised_id(value: str) -> str | None:
    """A msg-id as `mail_headers.message_id` stores it, or None when it is not sane."""
    holder = Message()
    holder.set_raw("Message-ID", value.strip())
    return message_id(Headers(holder))


def _original_ids(headers: Headers, parts: _Parts, quoted: str) -> tuple[str, ...]:
    """The returned reply's Message-IDs, surest first: the attached original or its
    headers; the report's X-Original-Message-ID (Gmail); a Message-ID line in the
    quoted original (Exim, Exchange's "original message headers"); and last the
    report's own In-Reply-To and References, which some servers thread to it."""
    candidates: list[str | None] = [message_id(original) for original in parts.originals]
    for block in parts.blocks:
        for name in ("X-Original-Message-ID", "Original-Message-ID"):
            candidates.extend(_normalised_id(value[:300]) for value in block.all(name)[:1])
    candidates.extend(
        _normalised_id(match.group(1)) for match in _QUOTED_MESSAGE_ID.finditer(quoted)
    )
    # Of the threading headers only the message replied to: the rest of References is
    # the reader's side of the thread, never a reply of ours.
    in_reply_to = headers.all("In-Reply-To")
    if in_reply_to:
        first = re.search(r"<[^<>\s]{1,248}>", in_reply_to[0][:1000])
        candidates.append(_normalised_id(first.group(0)) if first is not None else None)
    references = headers.all("References")
    if references:
        found = re.findall(r"<[^<>\s]{1,248}>", references[0][: 64 * 1024])
        candidates.append(_normalised_id(found[-1]) if found else None)
    unique: list[str] = []
    for candidate in candidates:
        if candidate is not None and candidate not in unique:
            unique.append(candidate)
        if len(unique) == MAX_IDS:
            break
    return tuple(unique)


def _reply_id(headers: Headers, parts: _Parts, pattern: ReturnPathPattern) -> int | None:
    """The reply id of the address the report was returned to: where the mailbox server
    wrote the envelope recipient (Delivered-To, X-Original-To, Envelope-To), the
    report's To, the sender Postfix names in its report, the original's Return-Path."""
    addresses: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To"):
        addresses.extend(headers.all(name)[:5])
    for block in parts.blocks:
        addresses.extend(_recipient(value) or "" for value in block.all("X-Postfix-Sender")[:1])
    for original in parts.originals:
        addresses.extend(original.all("Return-Path")[:1])
    for value in addresses:
        address = _address(value[:1000])
        if address is not None:
            found = pattern.reply_id(address)
            if found is not None:
                return found
    return None


def _one_line(text: str) -> str:
    """What staff see: one line of at most MAX_DIAGNOSTIC characters, storable."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    if len(line) > MAX_DIAGNOSTIC:
        line = line[: MAX_DIAGNOSTIC - 1].rstrip() + "…"
    return storable(line, MAX_DIAGNOSTIC)
