"""Every RFC 2047 encoded word a reply carries is at most 75 characters, holds whole
characters, stands on a line of at most 76, and decodes to exactly the text meant: the
branch's name in From, the reader's subject in Subject."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_string
from email.header import decode_header, make_header
from email.policy import default
from email.utils import parseaddr
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.replies import compose_reply, display_name, reply_subject
from empikgo_mailer.entrypoints.console.mail_pages import readable_reply

EXAMPLE = Path(__file__).parents[2] / "config" / "empikgo.example.toml"
BRANCHES = sorted(
    (branch.name, branch.mailbox) for branch in load_settings(EXAMPLE, {}).branches.values()
)
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?\s]*)\?=")
SUBJECTS = [
    "EMPIK GO",
    "empik go",
    "Odp: EMPIK GO",
    "[ZEWNĘTRZNA] EMPIK GO",
    "ＥＭＰＩＫ　ＧＯ",
    "Kod Empik Go - prośba",
    "Prośba o kod Empik Go dla mnie i mojej córki, która też ma kartę w bibliotece",
    "Zażółć gęślą jaźń " * 12,
    "ąęśćżźńół" * 25,
    "😀" * 60,
    "Re: =?utf-8?q?EMPIK_GO?= (a subject that only looks encoded)",
    "Kod Empik Go " + "x" * 190,  # ASCII: no encoded words at all
    "ż" * 199 + " koniec",  # cut to 200 characters just after a space
    "Prośba " + "x" * 100 + " ż",  # a word longer than a line beside encoded ones
]


def header_lines(text: str, name: str) -> list[str]:
    """The lines of header `name` as written: its first line and its continuations."""
    head = text.split("\n\n", 1)[0].split("\n")
    start = next(i for i, line in enumerate(head) if line.startswith(f"{name}: "))
    end = start + 1
    while end < len(head) and head[end][:1] in (" ", "\t"):
        end += 1
    return head[start:end]


def check_encoded_words(lines: list[str]) -> None:
    for line in lines:
        words = list(ENCODED_WORD.finditer(line))
        for word in words:
            assert len(word.group(0)) <= 75, word.group(0)
            # Whole characters in each word (RFC 2047 section 5): it decodes alone.
            ((data, charset),) = decode_header(word.group(0))
            assert isinstance(data, bytes) and charset is not None
            data.decode(charset)
        if words:
            assert len(line) <= 76, line


def composed(name: str, address: str, subject: str) -> str:
    return compose_reply(
        text="Dzień dobry",
        from_name=name,
        from_address=address,
        to_address="czytelnik@example.com",
        original_subject=subject,
        original_message_id="<orig@example.com>",
        original_references=None,
        now=NOW,
    ).text


def check_reply(name: str, address: str, subject: str, *, python_parser: bool = True) -> None:
    """`python_parser`: also through email.policy.default, which keeps the space between
    two encoded words of a display name (RFC 2047 section 6.2 drops it): right for every
    name whose non-ASCII words fit in one encoded word, as every real branch name does."""
    text = composed(name, address, subject)
    from_lines, subject_lines = header_lines(text, "From"), header_lines(text, "Subject")
    check_encoded_words(from_lines)
    check_encoded_words(subject_lines)
    # Unfolded and decoded as RFC 2047 says (the stdlib's compat32 decoder): the same text.
    unfolded_subject = "".join(subject_lines)[len("Subject: ") :]
    assert str(make_header(decode_header(unfolded_subject))) == reply_subject(subject)
    shown, addr_spec = parseaddr("".join(from_lines)[len("From: ") :])
    assert str(make_header(decode_header(shown))) == display_name(name)
    assert addr_spec == address
    message = message_from_string(text, policy=default)
    assert str(message["Subject"]) == reply_subject(subject)
    (sender,) = message["From"].addresses
    assert sender.addr_spec == address
    if python_parser:
        assert sender.display_name == display_name(name)


def test_the_example_branches_are_the_ones_meant() -> None:
    assert [name for name, _ in BRANCHES] == [
        "Dzielnicowa Wypożyczalnia Multimedialna",
        "Wypożyczalnia dla Dorosłych i Młodzieży nr 63",
    ]


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize(("name", "address"), BRANCHES)
def test_every_encoded_word_of_a_reply_is_short_and_decodes_to_the_text(
    name: str, address: str, subject: str
) -> None:
    check_reply(name, address, subject)


def test_the_branches_from_lines() -> None:
    """Only the words that need it encoded, each alone: "nr 63" was the 77th character of
    one encoded word."""
    (multimedia, w63) = (composed(name, address, "x") for name, address in BRANCHES)
    assert header_lines(multimedia, "From") == [
        "From: Dzielnicowa =?utf-8?q?Wypo=C5=BCyczalnia?= Multimedialna",
        " <multimedia@bpmokotow.waw.pl>",
    ]
    assert header_lines(w63, "From") == [
        "From: =?utf-8?q?Wypo=C5=BCyczalnia?= dla =?utf-8?q?Doros=C5=82ych?= i",
        " =?utf-8?b?TcWCb2R6aWXFvHk=?= nr 63 <w63@bpmokotow.waw.pl>",
    ]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("Filia nr 2", "From: Filia nr 2 <f2@example.com>"),
        # "2," is no atom: it goes into the encoded word with its neighbour.
        ("Filia nr 2, Ursynów", "From: Filia nr =?utf-8?b?MiwgVXJzeW7Ds3c=?= <f2@example.com>"),
        ("Filia (Służew)", "From: Filia =?utf-8?b?KFPFgnXFvGV3KQ==?= <f2@example.com>"),
        # ASCII that a client would take for an encoded word is encoded itself.
        ("Biblioteka =?x?q?y?=", "From: Biblioteka =?utf-8?b?PT94P3E/eT89?= <f2@example.com>"),
    ],
)
def test_a_display_name_keeps_its_atoms_and_encodes_the_rest(name: str, line: str) -> None:
    assert header_lines(composed(name, "f2@example.com", "x"), "From") == [line]
    check_reply(name, "f2@example.com", "x")


TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r"), max_size=300)


@settings(max_examples=300, deadline=None)
@given(name=TEXT.filter(lambda n: display_name(n) != ""), subject=TEXT)
@example(name="ż" * 200, subject="😀" * 300)
@example(name="Biblioteka =?utf-8?q?x?=", subject="=?utf-8?b?RU1QSUsgR08=?=")
def test_any_name_and_subject_encode_within_the_limits(name: str, subject: str) -> None:
    check_reply(name, "branch@biblioteka.test", subject, python_parser=False)


@pytest.mark.parametrize(("name", "address"), BRANCHES)
def test_staff_see_the_branch_name_as_configured(name: str, address: str) -> None:
    """The console shows a reply through the modern parser (mail_pages.readable_reply)."""
    shown = readable_reply(composed(name, address, "Kod Empik Go prośba"))
    assert shown.startswith(f"Od: {name} <{address}>\n")
    assert "\nTemat: Re: Kod Empik Go prośba\n" in shown
