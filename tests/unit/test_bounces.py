"""Reading delivery reports: the real formats of Postfix, Exchange, Gmail and Exim, what
is not a report, and any bytes at all (RULES §8)."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain import bounces
from empikgo_mailer.domain.bounces import (
    MAX_DIAGNOSTIC,
    MAX_RECIPIENTS,
    BounceReading,
    ReturnPathPattern,
    read_bounce,
)

MAIL = Path(__file__).parents[2] / "fixtures" / "mail"
BOUNCES = MAIL / "bounces"


def bounce(name: str) -> bytes:
    return (BOUNCES / name).read_bytes()


@dataclass(frozen=True)
class Expected:
    permanent: bool
    recipient: str | None
    message_id: str | None
    status: str | None
    diagnostic: str
    reply_id: int | None = None


EXPECTED = {
    "postfix_user_unknown.eml": Expected(
        True,
        "jan.kowalski@example.com",
        "<179620800201.2841.9472630183750142953.empikgo@bpmokotow.waw.pl>",
        "5.1.1",
        "550 5.1.1 <jan.kowalski@example.com>: Recipient address rejected: User unknown in"
        " virtual mailbox table",
        reply_id=1234,
    ),
    "postfix_delayed.eml": Expected(
        False,
        "anna.nowak@example.net",
        "<179620800301.2841.1180455163378226141.empikgo@bpmokotow.waw.pl>",
        "4.4.1",
        "4.4.1 connect to mx.example.net[198.51.100.7]:25: Connection timed out",
    ),
    "exchange_pl.eml": Expected(
        True,
        "j.nowak@urzad.example.pl",
        "<179620800401.2841.5521907736148021987.empikgo@bpmokotow.waw.pl>",
        "5.1.10",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
    ),
    "exchange_en.eml": Expected(
        True,
        "anna.wisniewska@example.org",
        "<179620800501.2841.3318845092716650233.empikgo@bpmokotow.waw.pl>",
        "5.1.1",
        "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",  # from the text: no Diagnostic-Code
        reply_id=77,  # the report's To: no Delivered-To is needed
    ),
    "gmail_address_not_found.eml": Expected(
        True,
        "jan.kowalski.1990@gmail.com",
        "<179620800601.2841.7044512839960117734.empikgo@bpmokotow.waw.pl>",
        "5.1.1",
        "550 5.1.1 The email account that you tried to reach does not exist. Please try"
        " double-checking the recipient's email address for typos or unnecessary spaces. For"
        " more information, go to https://support.google.com/mail/?p=NoSuchUser"
        " a640c23a62f3a-a9a0e3f9c2esor1234567a12.45 - gsmtp",
    ),
    "mailbox_full.eml": Expected(
        False,  # RULES §8: a full mailbox is temporary
        "ewa.zielinska@example.pl",
        "<179620800701.2841.8830216674519302275.empikgo@bpmokotow.waw.pl>",
        "5.2.2",
        "552 5.2.2 <ewa.zielinska@example.pl>: Quota exceeded (mailbox for user is full)",
        reply_id=2001,  # from Envelope-To
    ),
    "exim_failed.eml": Expected(
        True,
        "piotr.lewandowski@example.com",
        "<179620800801.2841.2294471805536617089.empikgo@bpmokotow.waw.pl>",
        "5.1.1",
        "550 5.1.1 <piotr.lewandowski@example.com>: Recipient address rejected: User unknown"
        " in local recipient table",
    ),
}


def test_every_bounce_fixture_has_its_expectation() -> None:
    assert {path.name for path in BOUNCES.glob("*.eml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_real_format_is_read(name: str) -> None:
    expected = EXPECTED[name]
    reading = read_bounce(bounce(name))
    assert reading is not None
    assert reading.permanent is expected.permanent
    assert reading.recipients == ((expected.recipient,) if expected.recipient else ())
    assert reading.original_message_ids[:1] == (
        (expected.message_id,) if expected.message_id else ()
    )
    assert reading.status == expected.status
    assert reading.diagnostic == expected.diagnostic
    assert reading.reply_id == expected.reply_id


def test_the_older_fixtures_are_bounces_too() -> None:
    """fixtures/mail/bounce*.eml: a bare Postfix report and an old Gmail text bounce that
    kept the original subject (the mail door files both as automatic mail)."""
    report = read_bounce((MAIL / "bounce.eml").read_bytes())
    assert report is not None
    assert (report.permanent, report.recipients, report.status) == (
        True,
        ("nobody@example.com",),
        "5.1.1",
    )
    assert report.diagnostic.startswith("5.1.1 ")
    text = read_bounce((MAIL / "bounce_with_subject.eml").read_bytes())
    assert text == BounceReading(
        permanent=True,
        recipients=("reader@example.com",),
        original_message_ids=(),
        status=None,
        diagnostic="Delivery to the following recipient failed permanently: reader@example.com",
        reply_id=None,
    )


@pytest.mark.parametrize(
    "path",
    [path for path in sorted(MAIL.glob("*.eml")) if not path.name.startswith("bounce")],
    ids=lambda path: path.name,
)
def test_requests_and_auto_replies_are_not_bounces(path: Path) -> None:
    assert read_bounce(path.read_bytes()) is None


OUT_OF_OFFICE = b"""Return-Path: <>
From: Anna Nowak <anna.nowak@example.net>
To: dwm@bpmokotow.waw.pl
Subject: =?utf-8?Q?Automatyczna_odpowied=C5=BA:_Re:_EMPIK_GO?=
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset="utf-8"

Jestem poza biurem do 15 listopada. Wiadomo\xc5\x9bci nie s\xc4\x85 przekazywane.
"""

READ_RECEIPT = b"""From: Jan Kowalski <jan.kowalski@example.com>
To: dwm@bpmokotow.waw.pl
Subject: Przeczytane: Re: EMPIK GO
Content-Type: multipart/report; report-type=disposition-notification; boundary="b"

--b
Content-Type: text/plain

Twoja wiadomo\xc5\x9b\xc4\x87 zosta\xc5\x82a przeczytana.
--b
Content-Type: message/disposition-notification

Final-Recipient: rfc822;jan.kowalski@example.com
Original-Message-ID: <179620800201.2841.9472630183750142953.empikgo@bpmokotow.waw.pl>
Disposition: manual-action/MDN-sent-manually; displayed
--b--
"""

DELIVERED = b"""From: Mail Delivery System <MAILER-DAEMON@smtp.bpmokotow.waw.pl>
To: dwm@bpmokotow.waw.pl
Subject: Successful Mail Delivery Report
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Your message was successfully delivered to the destination(s) listed below.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; smtp.bpmokotow.waw.pl

Final-Recipient: rfc822; jan.kowalski@example.com
Action: relayed
Status: 2.0.0
--b--
"""


def forwarded(report: bytes) -> bytes:
    """A reader who forwards a bounce they got to the library: their message, not one."""
    return (
        b"From: Jan Kowalski <jan.kowalski@example.com>\r\n"
        b"To: dwm@bpmokotow.waw.pl\r\n"
        b"Subject: Fwd: Undeliverable: Re: EMPIK GO\r\n"
        b'Content-Type: multipart/mixed; boundary="f"\r\n\r\n'
        b"--f\r\nContent-Type: text/plain\r\n\r\nCo to znaczy?\r\n"
        b"--f\r\nContent-Type: message/rfc822\r\n\r\n" + report + b"\r\n--f--\r\n"
    )


@pytest.mark.parametrize(
    "raw",
    [OUT_OF_OFFICE, READ_RECEIPT, DELIVERED, forwarded(bounce("exchange_en.eml")), b"", b"\r\n"],
    ids=["out-of-office", "read-receipt", "delivered", "forwarded-bounce", "empty", "blank"],
)
def test_other_automatic_mail_is_not_a_bounce(raw: bytes) -> None:
    assert read_bounce(raw) is None


def without(raw: bytes, *content_types: str) -> bytes:
    """The report with those parts taken out, as a gateway that strips them sends it."""
    message = message_from_bytes(raw)
    stack = [message]
    while stack:
        part = stack.pop()
        children = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(children, list):
            kept: list[Message | str] = [
                child
                for child in children
                if isinstance(child, Message) and child.get_content_type() not in content_types
            ]
            part.set_payload(kept)
            stack.extend(child for child in kept if isinstance(child, Message))
    return message.as_bytes(policy=compat32)


@pytest.mark.parametrize(
    "name",
    [
        "postfix_user_unknown.eml",
        "exchange_pl.eml",
        "exchange_en.eml",
        "gmail_address_not_found.eml",
        "mailbox_full.eml",
        "postfix_delayed.eml",
    ],
)
def test_without_the_report_the_text_still_tells(name: str) -> None:
    """No message/delivery-status part: the subject, the text and the server's answer
    quoted in it decide the same way."""
    expected = EXPECTED[name]
    reading = read_bounce(without(bounce(name), "message/delivery-status"))
    assert reading is not None
    assert reading.permanent is expected.permanent
    assert expected.message_id in reading.original_message_ids
    if expected.permanent or expected.status is None or expected.status.startswith("5"):
        assert reading.recipients == (expected.recipient,)


@pytest.mark.parametrize(
    ("name", "message_id"),
    [
        # Exchange quotes the original headers in its text; Gmail threads its report.
        ("exchange_pl.eml", EXPECTED["exchange_pl.eml"].message_id),
        ("exchange_en.eml", EXPECTED["exchange_en.eml"].message_id),
        ("gmail_address_not_found.eml", EXPECTED["gmail_address_not_found.eml"].message_id),
        ("exim_failed.eml", EXPECTED["exim_failed.eml"].message_id),
    ],
)
def test_without_the_original_its_id_is_found_elsewhere(name: str, message_id: str) -> None:
    raw = without(bounce(name), "message/rfc822", "text/rfc822-headers")
    reading = read_bounce(raw)
    assert reading is not None
    assert reading.original_message_ids[:1] == (message_id,)


def report(*recipient_blocks: str, headers: str = "", text: str = "") -> bytes:
    blocks = "\n".join(f"\n{block.strip()}\n" for block in recipient_blocks)
    return (
        "From: MAILER-DAEMON@smtp.bpmokotow.waw.pl (Mail Delivery System)\n"
        "To: dwm@bpmokotow.waw.pl\n"
        f"{headers}"
        "Subject: Undelivered Mail Returned to Sender\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        f"--b\nContent-Type: text/plain\n\n{text}\n"
        "--b\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; smtp.bpmokotow.waw.pl\n{blocks}\n"
        "--b--\n"
    ).encode()


@pytest.mark.parametrize(
    ("status", "diagnostic", "permanent"),
    [
        ("5.1.1", "smtp; 550 5.1.1 user unknown", True),
        ("5.1.2", "smtp; 550 5.1.2 Host or domain name not found", True),
        ("5.7.1", "smtp; 554 5.7.1 Message rejected as spam", True),
        ("5.7.1", "smtp; 550 5.7.1 Sending rate limit exceeded, try later", False),
        ("5.2.2", "smtp; 552 5.2.2 Mailbox full", False),
        ("4.2.2", "smtp; 452 4.2.2 Mailbox full", False),
        ("4.4.7", "X-Postfix; delivery temporarily suspended: connect timed out", False),
        ("5.0.0", "", True),
        ("5.0.0 (recipient reached disk quota)", "", False),  # the reason in a comment
        ("", "", True),  # "failed", and not a word more: the server gave up
    ],
)
def test_a_failed_recipient_is_permanent_as_its_answer_says(
    status: str, diagnostic: str, permanent: bool
) -> None:
    block = f"Final-Recipient: rfc822; jan@example.com\nAction: failed\nStatus: {status}\n"
    if diagnostic:
        block += f"Diagnostic-Code: {diagnostic}\n"
    reading = read_bounce(report(block))
    assert reading is not None
    assert reading.permanent is permanent


def test_a_broken_report_falls_back_to_what_it_still_says() -> None:
    no_action = read_bounce(report("Final-Recipient: rfc822; a@example.com\nStatus: 5.1.1"))
    assert no_action is not None
    assert (no_action.permanent, no_action.recipients) == (True, ("a@example.com",))
    empty = read_bounce(report(text="<a@example.com>: host mx said: 550 5.1.1 no such user"))
    assert empty is not None
    assert (empty.permanent, empty.recipients, empty.status) == (
        True,
        ("a@example.com",),
        "5.1.1",
    )


def test_the_permanent_recipients_are_named_first_and_alone() -> None:
    reading = read_bounce(
        report(
            "Final-Recipient: rfc822; late@example.com\nAction: delayed\nStatus: 4.4.1",
            "Final-Recipient: rfc822; a@example.com\nOriginal-Recipient: rfc822; A@Example.com\n"
            "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user",
            "Final-Recipient: rfc822; ok@example.com\nAction: delivered\nStatus: 2.0.0",
        )
    )
    assert reading is not None
    assert (reading.permanent, reading.recipients, reading.status) == (
        True,
        ("A@Example.com",),  # the address as it was sent (Original-Recipient)
        "5.1.1",
    )
    assert reading.diagnostic == "550 5.1.1 no such user"


def test_what_staff_see_is_bounded() -> None:
    many = [
        f"Final-Recipient: rfc822; reader{n}@example.com\nAction: failed\nStatus: 5.1.1\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 {'very long answer ' * 100}\x00\x1b[31m"
        for n in range(200)
    ]
    reading = read_bounce(report(*many))
    assert reading is not None
    assert len(reading.recipients) == MAX_RECIPIENTS
    assert len(reading.diagnostic) <= MAX_DIAGNOSTIC
    assert reading.diagnostic.isprintable()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "<179620800201.2841.1.empikgo@bpmokotow.waw.pl>",
            ("<179620800201.2841.1.empikgo@bpmokotow.waw.pl>",),
        ),
        ("  <abc@x.test>  ", ("<abc@x.test>",)),
        ("<a b@x.test>", ()),  # not a sane msg-id: dropped as mail_headers drops it
        (f"<{'a' * 300}@x.test>", ()),
        ("abc@x.test", ()),
    ],
)
def test_message_ids_are_kept_as_mail_headers_stores_them(
    value: str, expected: tuple[str, ...]
) -> None:
    raw = report(
        "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1",
        headers="X-Original-To: dwm@bpmokotow.waw.pl\n",
    ).replace(
        b"--b--", f"--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: {value}\n\n--b--".encode()
    )
    reading = read_bounce(raw)
    assert reading is not None
    assert reading.original_message_ids == expected


@pytest.mark.parametrize(
    ("address", "reply_id"),
    [
        ("dwm+r42@bpmokotow.waw.pl", 42),
        ("<dwm+R42@bpmokotow.waw.pl>", 42),
        ("first.last+r7@example.com", 7),
        ("dwm+x+r9@example.com", 9),
        ("dwm@bpmokotow.waw.pl", None),
        ("dwm+r@bpmokotow.waw.pl", None),
        ("dwm+r0@bpmokotow.waw.pl", None),
        ("dwm+r042@bpmokotow.waw.pl", None),  # not as we write it
        ("dwm+r-1@bpmokotow.waw.pl", None),
        ("dwm+r12a@bpmokotow.waw.pl", None),
        ("dwm+r1234567890123456789@bpmokotow.waw.pl", None),  # beyond a database id
        ("+r42@bpmokotow.waw.pl", None),
        ("dwm+r42", None),
        ("", None),
    ],
)
def test_a_reply_id_is_read_from_the_return_path(address: str, reply_id: int | None) -> None:
    assert ReturnPathPattern().reply_id(address) == reply_id


def test_the_return_path_pattern_is_configurable() -> None:
    pattern = ReturnPathPattern(separator="-", prefix="reply")
    assert pattern.address("dwm@bpmokotow.waw.pl", 42) == "dwm-reply42@bpmokotow.waw.pl"
    assert ReturnPathPattern().address("dwm@bpmokotow.waw.pl", 42) == "dwm+r42@bpmokotow.waw.pl"
    raw = bounce("postfix_user_unknown.eml").replace(b"dwm+r1234@", b"dwm-reply77@")
    reading = read_bounce(raw, return_path_pattern=pattern)
    assert reading is not None
    assert reading.reply_id == 77
    default = read_bounce(raw)
    assert default is not None
    assert default.reply_id is None
    for separator, prefix in (("", "r"), ("@", "r"), ("+", "r1"), ("++", "r")):
        with pytest.raises(ValueError, match="return path"):
            ReturnPathPattern(separator=separator, prefix=prefix)
    with pytest.raises(ValueError, match="reply id"):
        pattern.address("dwm@bpmokotow.waw.pl", 0)


def check(reading: BounceReading | None) -> None:
    """What any reading holds, whatever the input."""
    if reading is None:
        return
    assert len(reading.recipients) <= MAX_RECIPIENTS
    assert all(len(address) <= 254 and "@" in address for address in reading.recipients)
    assert len(reading.diagnostic) <= MAX_DIAGNOSTIC
    assert "\n" not in reading.diagnostic and "\x00" not in reading.diagnostic
    assert len(reading.original_message_ids) <= bounces.MAX_IDS
    assert all(
        value.startswith("<") and value.endswith(">") and value.isascii() and " " not in value
        for value in reading.original_message_ids
    )
    assert reading.reply_id is None or 0 < reading.reply_id < 2**63
    assert reading.status is None or reading.status[0] in "245"


SAMPLES = [path.read_bytes() for path in sorted(BOUNCES.glob("*.eml"))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=4000))
def test_any_bytes_are_read_without_raising(raw: bytes) -> None:
    # The reading itself, below read_bounce's last guard: it must not need the guard.
    check(bounces._read(raw, bounces.DEFAULT_RETURN_PATH))
    check(read_bounce(raw))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    cuts=st.lists(st.tuples(st.integers(0, 8000), st.binary(max_size=40)), max_size=6),
    end=st.integers(0, 9000),
)
def test_damaged_reports_are_read_without_raising(
    sample: bytes, cuts: list[tuple[int, bytes]], end: int
) -> None:
    """Real reports with bytes replaced and the end cut off: broken boundaries, headers
    and encodings where a parser is most likely to trip."""
    raw = bytearray(sample[:end])
    for position, junk in cuts:
        raw[position : position + len(junk)] = junk
    check(bounces._read(bytes(raw), bounces.DEFAULT_RETURN_PATH))


FIELD_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    action=st.sampled_from(["failed", "delayed", "delivered", "error", "", "FAILED (x)"]),
    status=FIELD_TEXT,
    diagnostic=FIELD_TEXT,
    recipient=FIELD_TEXT,
    to=FIELD_TEXT,
    subject=FIELD_TEXT,
)
def test_any_field_values_are_read_without_raising(
    action: str, status: str, diagnostic: str, recipient: str, to: str, subject: str
) -> None:
    raw = report(
        f"Final-Recipient: {recipient}\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: {diagnostic}",
        headers=f"Delivered-To: {to}\n",
        text=subject,
    ).replace(b"Undelivered Mail Returned to Sender", subject.encode("utf-8", "replace"))
    check(bounces._read(raw, bounces.DEFAULT_RETURN_PATH))


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    nested = b"Subject: Undeliverable: x\nContent-Type: multipart/mixed; boundary=a\n\n"
    nested += b"--a\nContent-Type: multipart/mixed; boundary=a\n\n" * 5000
    check(bounces._read(nested, bounces.DEFAULT_RETURN_PATH))
