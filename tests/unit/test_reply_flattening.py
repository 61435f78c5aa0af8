"""A reply is written out by hand (replies.reply_headers and _flattened) rather than
built as the stdlib's Message and written by its generator, which cost half of a
decision: byte for byte the same message, whatever the reader's subject, the branch's
name or the reply's text hold."""

from __future__ import annotations

from datetime import datetime
from email.header import Header
from email.message import Message
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain.replies import (
    _UTF8_QP,
    _flattened,
    _header_text,
    reply_headers,
    reply_subject,
)

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r"), max_size=400)


@settings(max_examples=300, deadline=None)
@given(subject=TEXT, name=TEXT.filter(str.strip), body=TEXT)
@example(subject="", name="0\x1e", body="")  # a line break to str.splitlines, not to us
def test_a_reply_is_what_the_stdlib_would_write(subject: str, name: str, body: str) -> None:
    now = datetime(2026, 11, 2, 10, tzinfo=ZoneInfo("Europe/Warsaw"))
    message = Message()
    message["MIME-Version"] = "1.0"
    message.set_payload(body, _UTF8_QP)
    message["From"] = formataddr((str(Header(name, "utf-8")), "multimedia@biblioteka.test"))
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
    assert _flattened(headers, body) == message.as_string()
