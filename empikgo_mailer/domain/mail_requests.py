"""Understanding a reader's e-mail: is it a request, is it automatic, who sent it and what
it says. `read_message` turns any bytes into a `MessageReading` and never raises: what
cannot be read is named in `problems`, for staff, and the rest is still read.

Messages are parsed with the stdlib's compat32 API (`email.message_from_bytes` without a
policy): several times faster than the modern policy, and just as tolerant of broken
mail; RFC 2047 words and addresses are decoded explicitly (`mail_headers`, `addresses`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser

from empikgo_mailer.domain.addresses import SenderReading, address_key, read_sender
from empikgo_mailer.domain.card_number import CardNumber, typed_plainly
from empikgo_mailer.domain.mail_headers import Headers, header_text, message_id, references
from empikgo_mailer.domain.mail_text import body_text
from empikgo_mailer.domain.names import name_words
from empikgo_mailer.domain.plain_message import parse_plain

# What clients and mail gateways put before a subject, possibly repeated and in any
# order: reply and forward prefixes of Polish ("Odp:", "Odp.:", "PD:"), English, German
# ("AW:", "WG:"), Dutch ("Antw:", "Doorst:"), Nordic ("SV:", "VS:", "VB:") and French
# ("TR:") clients, numbered ("RE[2]:", "Re(2):"), gateways' tags ("[EXTERNAL]",
# "[SPAM?]") and marks ("*** SPAM ***"). Only the whole-subject check below needs them
# gone: the words EMPIK GO are found wherever they stand.
_PREFIX = re.compile(
    r"^(?:\s*(?:(?:re|odp|fwd?|pd|aw|wg|sv|vs|vb|antw|doorst|tr)\s*\.?\s*(?:\[\d+\]|\(\d+\))?"
    r"\s*:|\[[^\[\]]{0,40}\]|\*{2,}[^*]{0,30}\*{2,}))+",
    re.IGNORECASE,
)
# The words EMPIK GO (the subject NFKC-normalised and casefolded first), apart or written
# together ("empikgo", "empik-go"), between non-letters: not "Empik Gold", not "myempikgo"
# and not part of a host or an address ("www.empikgo.pl", "kontakt@empikgo.pl",
# "empikgo_pl"), while "Kod…Empik Go." still counts. Casefolded text against ASCII
# letters: lookalikes of other scripts ("ЕМРІК") never match, nor Turkish dotless "ı",
# which re.IGNORECASE would let stand for "i". The pattern starts with its literal, the
# left boundary looked at behind it: the regex engine then scans for "empik" as
# str.find does: 4-12x faster on a subject without it than with the lookbehind first.
_REQUEST_WORDS = re.compile(
    r"empik(?<![^\W_]empik)(?<![^\W_][.@_]empik)[\W_]*go(?![^\W_]|[.@_][^\W_])"
)
_NOT_WORD = re.compile(r"[\W_]+")
_AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster")
# "Nr karty", "numer karty bibliotecznej:", "karta czytelnika". What may stand before
# "karty" ("nr", "numer") is not in the pattern: it never changes the number found, and
# a pattern that starts with an optional part is tried at every position (2.5x slower).
# "Numer karty to 1000010" is how many write it: "to" is a word, never a card's letters.
_CARD_LABEL = re.compile(
    r"(?:karty|karta|czytelnika)(?:\s+biblioteczn(?:ej|a))?\s*(?:nr|numer)?\.?\s*[:#-]?\s*"
    r"(?:to\b[\s:]*)?((?!to\b)[A-Za-z]{0,3}[ \t-]?\d[\d \t-]{3,20}\d)(?!\w)",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"(?<![\w@.+/-])(\d{5,14})(?![\w@/-]|[.,]\d)")
# Where a quoted earlier message begins, as Polish, English, German, Dutch and Nordic
# clients introduce it (readers abroad write from clients in those languages too).
_QUOTE_HEADERS = re.compile(
    r"^(?:W dniu .* pisze:|On .* wrote:|Dnia .* napisał\(a\):|.* napisał\(a\):|"
    r"Am .* schrieb .*:|Op .* schreef .*:|Den .* skrev .*:|"
    r"-+\s*(?:Original Message|Wiadomość oryginalna|Oryginalna wiadomość|Forwarded message|"
    r"Wiadomość przekazana dalej|Przekazana wiadomość|Ursprüngliche Nachricht|"
    r"Oorspronkelijk bericht)\s*-+|"
    r"(?:From|Od|Sent|Wysłano|Wysłane|Date|Data|Von|Van|Fra|Från|Gesendet|Verzonden|Sendt|"
    r"Skickat):\s.*)\s*$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(
    r"^(?:--\s*|Sent from my .*|Wysłane z .*|Wysłano z .*|Pobierz Outlook.*|Get Outlook for .*|"
    r"Von meinem .* gesendet|Verzonden (?:vanaf|met) .*|Skickat från .*|Sendt fra .*)$",
    re.IGNORECASE,
)
MAX_SIGNATURE_LINES = 20  # a card label stands near the name; disclaimers follow


def is_request_subject(subject: str) -> bool:
    """The words 'EMPIK GO' anywhere in the subject, in any case, spacing and compatibility
    form of the letters (fullwidth "ＥＭＰＩＫ　ＧＯ"), or a subject that is nothing but
    those letters after reply prefixes and gateway tags ("Re: E M P I K  G O")."""
    if not subject.isascii():
        subject = unicodedata.normalize("NFKC", subject)
    folded = subject.casefold()
    if _REQUEST_WORDS.search(folded) is not None:
        return True
    # Letters that end in anything but "empikgo" cannot be them alone: one pass, not two.
    letters = _NOT_WORD.sub("", folded)
    return letters.endswith("empikgo") and _NOT_WORD.sub("", _PREFIX.sub("", folded)) == "empikgo"


def parse_message(raw: bytes) -> Message:
    return _parsed(raw)[0]


def _parsed(raw: bytes) -> tuple[Message, str | None]:
    """The whole message; only its headers, and why, when the body defeats the parser (a
    multipart nested a thousand levels deep exhausts the stdlib parser's recursion)."""
    plain = parse_plain(raw)  # most requests: a quarter of the stdlib parser's time
    if plain is not None:
        return plain, None
    try:
        return message_from_bytes(raw), None
    except Exception as exc:
        headers_only = BytesHeaderParser().parsebytes(raw)
        headers_only.set_payload("")
        return headers_only, f"nieczytelna treść ({type(exc).__name__})"


def _automatic(
    message: Message, headers: Headers, address: str | None, own_addresses: frozenset[str]
) -> str | None:
    """Why a message is automatic (RFC 3834 and friends) or our own, in Polish for staff;
    None for mail from a person. `own_addresses`: the branch mailboxes (address keys)."""

    def value(name: str) -> str:
        return (header_text(headers, name, limit=100) or "").lower()

    auto_submitted = value("Auto-Submitted")
    if auto_submitted and auto_submitted != "no":
        return f"wiadomość automatyczna (Auto-Submitted: {auto_submitted})"
    precedence = value("Precedence")
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"wiadomość masowa (Precedence: {precedence})"
    if headers.all("List-Id"):
        return "wiadomość z listy dyskusyjnej (List-Id)"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        found = value(header)
        if found and (header != "X-Auto-Response-Suppress" or "oof" in found or found == "all"):
            return f"odpowiedź automatyczna ({header})"
    return_path = headers.all("Return-Path")
    if return_path and return_path[0].strip() in {"<>", ""}:
        return "zwrot bez nadawcy (Return-Path: <>)"
    if address is not None and address.split("@")[0].lower() in _AUTOMATIC_SENDERS:
        return f"komunikat serwera poczty ({address})"
    if address is not None and address_key(address) in own_addresses:
        # A branch's own reply bounced back, or a loop between our two mailboxes.
        return f"wiadomość z adresu biblioteki ({address})"
    try:
        report = message.get_content_type() == "multipart/report"
    except Exception:
        report = False
    return "raport doręczenia (multipart/report)" if report else None


def own_words(text: str) -> str:
    """The part of a body the sender wrote now: quoted earlier messages and the signature
    cut off."""
    return _own_words_and_signature(text)[0]


def _own_words_and_signature(text: str) -> tuple[str, str]:
    """The sender's own words and their signature: the lines after a signature mark ("-- ",
    "Wysłane z iPhone'a"), at most MAX_SIGNATURE_LINES of them, up to a quoted message."""
    kept: list[str] = []
    signature: list[str] | None = None  # None: no signature mark seen yet
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(">"):
            if signature is not None:
                break
            continue
        # Every quote header holds a ":" or a "-": most lines skip the regex (~250 ns each).
        if (":" in stripped or "-" in stripped) and _QUOTE_HEADERS.match(stripped):
            break
        if signature is not None:
            if len(signature) == MAX_SIGNATURE_LINES:
                break
            signature.append(stripped)
        elif _SIGNATURE.match(line.rstrip()):
            signature = []
        else:
            kept.append(stripped)
    return "\n".join(kept).strip(), "\n".join(signature or ()).strip()


MAX_CARDS = 10  # more than one is already ambiguous; the reply lists at most these


def card_numbers(text: str, *, labelled_only: bool = False) -> tuple[str, ...]:
    """Distinct card numbers written in the text, labelled ones ('nr karty: B 123 456')
    and, unless `labelled_only`, bare runs of 5-14 digits, in any Unicode digits; at most
    MAX_CARDS of them."""
    text = typed_plainly(text)
    found = [m.group(1) for m in _CARD_LABEL.finditer(text)]
    if not labelled_only:
        found.extend(m.group(1) for m in _BARE_NUMBER.finditer(text))
    cards = [card.value for card in map(CardNumber.find, found) if card is not None]
    unique: list[str] = []
    for card in cards:
        # "B0012345" written as a label and "0012345" seen bare are the same card.
        if not any(
            card == other or card.endswith(other) or other.endswith(card) for other in unique
        ):
            unique.append(card)
            if len(unique) == MAX_CARDS:
                break
    return tuple(unique)


MAX_WORDS = 2000  # what staff see of the reader's words
MAX_LINE = 200  # a longer line is shown cut; the name and card are looked for in all of it


def _shown(words: str) -> str:
    lines = [line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…" for line in words.split("\n")]
    return "\n".join(lines)[:MAX_WORDS]


@dataclass(frozen=True)
class RequestText:
    """What the request says: the sender's own words (as staff see them), every word that
    may be part of a name (wherever it stands), and the card numbers."""

    words: str
    name_words: str
    cards: tuple[str, ...]

    @property
    def card(self) -> str | None:
        return self.cards[0] if len(self.cards) == 1 else None


def read_request(message: Message) -> RequestText:
    """The card is looked for in the sender's own words; when they hold none, a labelled
    number in the signature ("-- / Jan Kowalski / nr karty 1000012") counts, never a bare
    one there (a phone number). The name may stand in either."""
    # NUL separates words as a space would; no database column takes it.
    words, signature = _own_words_and_signature(body_text(message).replace("\x00", " "))
    cards = card_numbers(words)
    if not signature:
        return RequestText(words=_shown(words), name_words=name_words(words), cards=cards)
    names = name_words(f"{words}\n{signature}")
    if not cards:
        cards = card_numbers(signature, labelled_only=True)
        if cards:  # staff see where the card was found
            words = f"{words}\n-- \n{signature}"
    return RequestText(words=_shown(words), name_words=names, cards=cards)


@dataclass(frozen=True)
class MessageReading:
    """Everything the mail door needs from one message, every value bounded and safe."""

    subject: str | None  # None: the headers could not be read at all
    sender: SenderReading
    message_id: str | None
    references: tuple[str, ...]
    automatic: str | None
    request: RequestText
    problems: tuple[str, ...] = ()  # what could not be read, in Polish for staff

    @property
    def is_request(self) -> bool:
        return self.subject is not None and is_request_subject(self.subject)


_NOTHING = RequestText("", "", ())


def read_message(raw: bytes, *, own_addresses: frozenset[str] = frozenset()) -> MessageReading:
    """Read a message in steps, each of which may fail alone: headers, then sender and
    automatic-mail signs, then the body. Never raises."""
    try:
        message, body_problem = _parsed(raw)
        headers = Headers(message)
        subject = header_text(headers, "Subject") or ""
    except Exception as exc:
        return MessageReading(
            None,
            SenderReading(None, "nieczytelne nagłówki"),
            None,
            (),
            None,
            _NOTHING,
            (f"nieczytelne nagłówki ({type(exc).__name__})",),
        )
    problems = [body_problem] if body_problem else []
    try:
        reading = read_sender(headers.all("From"))
        automatic = _automatic(message, headers, reading.address, own_addresses)
        msg_id, refs = message_id(headers), references(headers)
    except Exception as exc:  # a bug, not mail: still recorded for staff, never lost
        reading, automatic, msg_id, refs = (
            SenderReading(None, "nieczytelny nadawca"),
            None,
            None,
            (),
        )
        problems.append(f"nieczytelne nagłówki ({type(exc).__name__})")
    try:
        request = read_request(message)
    except Exception as exc:
        request = _NOTHING
        problems.append(f"nieczytelna treść ({type(exc).__name__})")
    return MessageReading(subject, reading, msg_id, refs, automatic, request, tuple(problems))


def fingerprint(sender_address: str | None, msg_id: str | None, content: bytes) -> str:
    """Identity of a request: its Message-ID together with its sender (another sender's
    message with the same Message-ID is another request), or the hash of the raw message
    when either is unknown."""
    if sender_address and msg_id:
        key = f"{address_key(sender_address)}\n{msg_id}".encode("utf-8", "surrogateescape")
        return "sid:" + hashlib.sha256(key).hexdigest()
    return "raw:" + hashlib.sha256(content).hexdigest()
