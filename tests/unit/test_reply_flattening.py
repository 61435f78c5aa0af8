"""A reply is written out by hand (replies.reply_headers and _flattened) rather than
built as the stdlib's Message and written by its generator, which cost half of a
decision: byte for byte the same message, whatever the reader's subject, the branch's
name or the reply's text hold."""

from __future__ import annotations

from datetime import datetime
from email.message import Message
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain.replies import (
    _UTF8_QP,
    _flattened,
    _from,
    _header_text,
    reply_headers,
    reply_subject,
)

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r"), max_size=400)


@settings(max_examples=300, deadline=None)
@given(subject=TEXT, name=TEXT.filter(str.strip), body=TEXT)
@example(subject="", name="0\x1e", body="")  # a line break to str.splitlines
@example(subject="", name="Filia\x85nr 2", body="")  # NEL: a line break to Python 3.12.5+
def test_a_reply_is_what_the_stdlib_would_write(subject: str, name: str, body: str) -> None:
    now = datetime(2026, 11, 2, 10, tzinfo=ZoneInfo("Europe/Warsaw"))
    message = Message()
    message["MIME-Version"] = "1.0"
    message.set_payload(body, _UTF8_QP)
    # The From line as replies._from encodes it (the encoding is tested in
    # test_reply_encoded_words): here, that the hand-written reply is the stdlib's.
    message["From"] = _from(name, "multimedia@biblioteka.test")
    message["Subject"] = _header_text(reply_subject(subject))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = "<empikgo.1@biblioteka.test>"
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    headers = reply_headers(
        from_name=name,
        from_address="multimedia@biblioteka.test",
        subject=subject,
        message_id="<empikgo.1@biblioteka.test>",
        now=now,
    )
    written = _flattened(headers, body)
    assert written == message.as_string()
    # One line per header (a folded one continues with a space): nothing a name or a
    # subject holds starts a header of its own.
    head = written.split("\n\n", 1)[0]
    assert all(line[:1] in (" ", "\t") or ": " in line for line in head.split("\n"))
