"""The text of a reader's message: MIME parts walked without recursion, bodies decoded
whatever their charset claims (or fails to claim), HTML turned into visible text."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from email.message import Message
from html.parser import HTMLParser

MAX_DEPTH = 32  # real mail nests 3-4 levels; deeper parts are not read
MAX_PARTS = 500
# Python codecs that are not MIME charsets: "charset=idna" must not run the IDNA codec
# over a body (it raises), nor unicode-escape interpret backslashes.
_NOT_MIME = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})
_POLISH = frozenset("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")


def _codec(name: str | None) -> str | None:
    """The codec of a declared charset when it is a real text charset, else None."""
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip().strip('"'))
    except (LookupError, ValueError, TypeError):
        return None
    if not info._is_text_encoding or info.name in _NOT_MIME:
        return None
    return info.name


def _polish_score(text: str) -> int:
    """Polish letters count for a reading, C1 controls and replacement marks against it:
    windows-1250 and ISO 8859-2 differ exactly in where they put ą, ś, ź and the C1 range."""
    good = sum(ch in _POLISH for ch in text)
    bad = sum(ch == "\ufffd" or "\x80" <= ch <= "\x9f" for ch in text)
    return good - 2 * bad


def decode_text(payload: bytes, declared: str | None) -> str:
    """The declared charset when it decodes the bytes; else UTF-8; else whichever of
    windows-1250 and ISO 8859-2 reads as more Polish (mail from older Polish clients
    often declares nothing)."""
    codec = _codec(declared)
    if codec is not None:
        try:
            return payload.decode(codec)
        except (UnicodeError, ValueError, LookupError):
            pass  # a wrong declaration: read the bytes as if nothing were declared
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = [payload.decode(name, "replace") for name in ("cp1250", "iso8859-2")]
    return max(candidates, key=_polish_score)  # max keeps the first (cp1250) on a tie


def iter_parts(message: Message) -> Iterator[Message]:
    """Leaf parts in document order, depth-first without recursion (a message nested a
    thousand levels deep must not exhaust the stack), at most MAX_PARTS of them."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            if depth < MAX_DEPTH:
                children = [child for child in payload if isinstance(child, Message)]
                stack.extend((child, depth + 1) for child in reversed(children))
            continue
        yield part


def part_text(part: Message, limit: int | None = None) -> str:
    """A leaf part's text in its declared charset (or the best guess), its first `limit`
    bytes when given."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    try:
        declared = part.get_content_charset()
    except Exception:  # a broken RFC 2231 parameter: as if nothing were declared
        declared = None
    return decode_text(payload if limit is None else payload[:limit], declared)


class _HtmlText(HTMLParser):
    """Visible text of an HTML body, with line breaks where blocks end; quoted parts of
    earlier messages (blockquote, Gmail and Outlook reply containers) are left out."""

    _BLOCKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "table", "hr"})
    _VOID = frozenset({"br", "hr", "img", "meta", "link", "input"})
    _SKIP = frozenset({"style", "script", "head", "title", "blockquote"})
    _QUOTE_MARKERS = (
        "gmail_quote",
        "divrplyfwdmsg",
        "appendonsend",
        "moz-cite-prefix",
        "yahoo_quoted",
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.depth = 0  # > 0 while inside something skipped
        self.stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        marker = " ".join(f"{v}" for k, v in attrs if k in {"class", "id"} and v).lower()
        skip = tag in self._SKIP or any(m in marker for m in self._QUOTE_MARKERS)
        if tag in self._VOID:
            if tag in self._BLOCKS and not self.depth:
                self.parts.append("\n")
            return
        self.stack.append(skip)
        self.depth += skip
        if tag in self._BLOCKS and not self.depth:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._VOID or not self.stack:
            return
        self.depth -= self.stack.pop()
        if tag in self._BLOCKS and not self.depth:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    return "\n".join(line.strip() for line in text.splitlines())


def _text_type(part: Message) -> str | None:
    """The content type of a part that is not an attachment; None for an attachment or
    a part whose headers the stdlib cannot parse."""
    try:
        if part.get_content_disposition() == "attachment":
            return None
        return part.get_content_type()
    except Exception:
        return None


def body_text(message: Message) -> str:
    """The reader's text: the first plain part when there is one, otherwise the first HTML
    part turned into text. Attachments are ignored."""
    plain: Message | None = None
    html: Message | None = None
    for part in iter_parts(message):
        content_type = _text_type(part)
        if content_type == "text/plain" and plain is None:
            plain = part
        elif content_type == "text/html" and html is None:
            html = part
    if plain is not None:
        return part_text(plain)
    return html_to_text(part_text(html)) if html is not None else ""
