"""The collector's FETCH answers are read without imapclient's parser where they have the
usual shape (imap_fetch.read_fetch); whatever imaplib hands over, the result is exactly
what imapclient's own parser gives for the UIDs asked for."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imapclient.response_parser import parse_fetch_response

from empikgo_mailer.adapters import imap_fetch
from empikgo_mailer.adapters.imap_fetch import read_fetch

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def imapclients(data: list[Any], uids: list[int]) -> dict[int, dict[bytes, Any]]:
    found = parse_fetch_response(list(data), False, True)
    return {uid: found[uid] for uid in uids if uid in found}


def same(data: list[Any], uids: list[int]) -> dict[int, dict[bytes, Any]]:
    """Both give the same answer, or both refuse it with the same error."""
    try:
        theirs = imapclients(data, uids)
    except Exception as refused:
        with pytest.raises(type(refused)):
            read_fetch(data, uids)
        return {}
    mine = read_fetch(data, uids)
    assert mine == theirs
    for uid, items in mine.items():  # the same offset, not only the same instant
        if b"INTERNALDATE" in items:
            assert items[b"INTERNALDATE"].utcoffset() == theirs[uid][b"INTERNALDATE"].utcoffset()
    return mine


def meta_line(seq: int, uid: int, size: int, when: str) -> bytes:
    return f'{seq} (UID {uid} RFC822.SIZE {size} INTERNALDATE "{when}")'.encode()


def test_dovecots_answers_are_read_by_the_fast_path(monkeypatch: Any) -> None:
    meta = [
        meta_line(1, 7, 296, "31-Oct-2026 23:00:01 +0000"),
        meta_line(2, 9, 289, " 1-Nov-2026 00:00:01 +0100"),
    ]
    bodies = [(b"1 (UID 7 BODY[] {3}", b"abc"), b")", (b"2 (UID 9 BODY[] {2}", b"\r\n"), b")"]
    headers = [(b"1 (UID 7 BODY[HEADER] {4}", b"a\r\n\r"), b")"]
    # No fallback: imapclient's parser is not called at all.
    monkeypatch.setattr(imap_fetch, "parse_fetch_response", None)
    assert read_fetch(meta, [7, 9])[9][b"RFC822.SIZE"] == 289
    assert read_fetch(bodies, [7, 9]) == {
        7: {b"SEQ": 1, b"BODY[]": b"abc"},
        9: {b"SEQ": 2, b"BODY[]": b"\r\n"},
    }
    assert read_fetch(headers, [7]) == {7: {b"SEQ": 1, b"BODY[HEADER]": b"a\r\n\r"}}
    monkeypatch.undo()
    same(meta, [7, 9])
    same(bodies, [7, 9])
    same(headers, [7])


def test_other_shapes_get_imapclients_answer() -> None:
    cases: list[list[Any]] = [
        # the UID after the literal
        [(b"1 (BODY[] {3}", b"abc"), b" UID 7)"],
        # an unsolicited FLAGS among the answers
        [meta_line(1, 7, 3, "01-Nov-2026 00:00:01 +0100"), b"2 (FLAGS (\\Seen))"],
        [(b"1 (UID 7 BODY[] {3}", b"abc"), b")", b"2 (FLAGS (\\Seen))"],
        # items in another order, with FLAGS
        [b'1 (INTERNALDATE "01-Nov-2026 00:00:01 +0100" RFC822.SIZE 3 UID 7)'],
        [b'1 (UID 7 RFC822.SIZE 3 FLAGS () INTERNALDATE "01-Nov-2026 00:00:01 +0100")'],
        # a quoted string or NIL instead of a literal
        [b'1 (UID 7 BODY[] "abc")'],
        [b"1 (UID 7 BODY[] NIL)"],
        # a literal shorter than announced
        [(b"1 (UID 7 BODY[] {5}", b"abc"), b")"],
        # one message twice
        [(b"1 (UID 7 BODY[] {3}", b"abc"), b")", (b"1 (UID 7 BODY[] {3}", b"xyz"), b")"],
        [
            meta_line(1, 7, 3, "01-Nov-2026 00:00:01 +0100"),
            meta_line(1, 7, 4, "01-Nov-2026 00:00:01 +0100"),
        ],
        # an answer for a message not asked for
        [meta_line(1, 7, 3, "01-Nov-2026 00:00:01 +0100"), meta_line(2, 8, 3, "x")],
        [(b"2 (UID 8 BODY[] {3}", b"abc"), b")"],
        # nothing at all
        [],
    ]
    for data in cases:
        same(data, [7])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 2**32 - 1),
            st.integers(0, 10**9),
            st.integers(1, 28),
            st.sampled_from(MONTHS),
            st.integers(1970, 2099),
            st.times(),
            st.integers(-12 * 60, 14 * 60),
        ),
        max_size=8,
        unique_by=lambda row: row[0],
    )
)
def test_any_usual_meta_answer_reads_as_imapclient_reads_it(rows: list[Any]) -> None:
    data = []
    for seq, (uid, size, day, month, year, at, offset) in enumerate(rows, start=1):
        sign, minutes = ("+" if offset >= 0 else "-"), abs(offset)
        when = f"{day:2d}-{month}-{year} {at:%H:%M:%S} {sign}{minutes // 60:02d}{minutes % 60:02d}"
        data.append(meta_line(seq, uid, size, when))
    same(data, [row[0] for row in rows])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 2**32 - 1), st.binary(max_size=300), st.booleans()),
        max_size=8,
        unique_by=lambda row: row[0],
    ),
    st.data(),
)
def test_any_usual_body_answer_reads_as_imapclient_reads_it(
    rows: list[Any], more: st.DataObject
) -> None:
    data: list[Any] = []
    for seq, (uid, body, header_only) in enumerate(rows, start=1):
        item = "BODY[HEADER]" if header_only else "BODY[]"
        data += [(f"{seq} (UID {uid} {item} {{{len(body)}}}".encode(), body), b")"]
    asked = [row[0] for row in rows]
    asked += more.draw(st.lists(st.integers(1, 2**32 - 1), max_size=2))  # not answered
    same(data, asked)
