"""A plain message is parsed without the stdlib's feed parser (plain_message.parse_plain):
whatever the bytes, it either gives up or gives exactly what `email.message_from_bytes`
gives, and a request reads the same either way."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empikgo_mailer.domain import mail_requests
from empikgo_mailer.domain.plain_message import parse_plain

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"
ENDINGS = st.sampled_from(["\r\n", "\n", "\r"])
NAMES = st.sampled_from(
    [
        "Subject",
        "From",
        "Message-ID",
        "Content-Type",
        "Content-Transfer-Encoding",
        "X-Weird_Name!",
        "From ",
        "Subject ",
        "",
        " Folded",
        "\tTabbed",
        "Bad Name",
        "Zażółć",
    ]
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "EMPIK GO",
            "text/plain; charset=utf-8",
            "multipart/mixed; boundary=XYZ",
            "message/rfc822",
            "message/delivery-status",
            "TEXT/PLAIN",
            "=?utf-8?q?EMPIK_GO?=",
            "",
            "  leading blanks",
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
)


@st.composite
def raw_messages(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        name, value = draw(NAMES), draw(VALUES)
        line = f"{name}:{draw(st.sampled_from([' ', '', chr(9)]))}{value}"
        if draw(st.booleans()):
            line += draw(ENDINGS) + draw(st.sampled_from([" ", "\t"])) + draw(VALUES)
        lines.append(line + draw(ENDINGS))
    if draw(st.booleans()):
        lines.append(draw(ENDINGS))  # the blank line
    lines.append(draw(st.text(max_size=80)))
    text = "".join(lines)
    encoded = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        encoded += draw(st.binary(max_size=40))  # bytes in no charset
    return encoded


@st.composite
def well_formed(draw: st.DrawFn) -> bytes:
    """Headers with valid names and one kind of line ending: the messages readers send."""
    ending = draw(ENDINGS)
    value = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=60)
    lines = [
        f"{draw(NAMES.filter(lambda n: n.isascii() and n.isprintable() and n.strip() and ' ' not in n))}:"
        f" {draw(value)}{ending}" + (f"\t{draw(value)}{ending}" if draw(st.booleans()) else "")
        for _ in range(draw(st.integers(0, 8)))
    ]
    body = draw(st.text(max_size=200))
    return "".join([*lines, ending, body]).encode("utf-8", "surrogatepass")


def same(mine: Message, theirs: Message) -> None:
    assert list(mine.raw_items()) == list(theirs.raw_items())
    assert mine.get_payload() == theirs.get_payload()
    assert mine.is_multipart() == theirs.is_multipart()
    assert mine.get_unixfrom() == theirs.get_unixfrom()
    assert [type(d) for d in mine.defects] == [type(d) for d in theirs.defects]
    assert mine.get_content_type() == theirs.get_content_type()
    assert mine.get_content_charset() == theirs.get_content_charset()


@settings(max_examples=1500, deadline=None)
@given(raw=raw_messages())
def test_a_message_parsed_by_hand_is_the_stdlibs_message(raw: bytes) -> None:
    mine = parse_plain(raw)
    if mine is not None:
        same(mine, message_from_bytes(raw))


@settings(max_examples=1000, deadline=None)
@given(raw=well_formed())
def test_a_well_formed_single_part_message_takes_the_fast_path(raw: bytes) -> None:
    theirs = message_from_bytes(raw)
    mine = parse_plain(raw)
    if theirs.get_content_maintype() in ("multipart", "message"):
        assert mine is None
    else:
        assert mine is not None
        same(mine, theirs)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.eml")), ids=lambda p: p.name)
def test_every_fixture_reads_the_same_with_either_parser(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = path.read_bytes()
    fast = mail_requests.read_message(raw)
    monkeypatch.setattr(mail_requests, "parse_plain", lambda raw: None)
    assert fast == mail_requests.read_message(raw)


def test_a_plain_request_takes_the_fast_path_and_a_multipart_one_does_not() -> None:
    plain = b"From: a@example.com\r\nSubject: EMPIK GO\r\n\r\nJan Kowalski\r\nkarta 123456\r\n"
    parsed = parse_plain(plain)
    assert parsed is not None
    assert parsed["Subject"] == "EMPIK GO"
    assert parsed.get_payload() == "Jan Kowalski\r\nkarta 123456\r\n"
    multipart = (
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n'
    )
    assert parse_plain(multipart) is None
