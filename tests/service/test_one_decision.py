"""Service level, a property: deciding a branch's queue N requests at a time gives exactly
what deciding it one request at a time gives (the fallback after a failed batch, and every
desk issue or staff action, is a batch of one). Readers with every combination of the
rules' facts write in any order, twice, from the wrong address, without a card; the pool
runs out or not. Both ways start from copies of one database file."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from empikgo_mailer.adapters.tables import Code, Issuance, MailRequest, OutboxMessage
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.codes import GiveCode, give_code
from empikgo_mailer.handlers.mail import DecideQueue
from tests.support.config import settings_for
from tests.support.data import add_ban, add_codes, add_patron
from tests.support.databases import migrated_sqlite
from tests.support.mail import FakeMailbox, collect, reply_text

WARSAW = ZoneInfo("Europe/Warsaw")
MONTH = Month(2026, 11)
FIRST_SECOND = datetime(2026, 11, 1, 0, 0, 1, tzinfo=WARSAW)
OPENING = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)  # a Monday
UNKNOWN_CARD = "3999999"


@dataclass(frozen=True)
class Reader:
    active: bool
    contact_fresh: bool
    debt: bool
    banned: bool
    code_at_desk: bool  # a code this month already, given at the desk

    def card(self, index: int) -> str:
        return f"300000{index}"


@dataclass(frozen=True)
class Letter:
    reader: int  # an index into the readers; len(readers): a card nobody has
    kind: str  # "plain", "wrong-sender", "no-card", "wrong-name"


readers_st = st.lists(
    st.builds(Reader, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    min_size=1,
    max_size=5,
)


def letters_for(count: int) -> st.SearchStrategy[list[Letter]]:
    kinds = st.sampled_from(["plain", "plain", "plain", "wrong-sender", "no-card", "wrong-name"])
    return st.lists(st.builds(Letter, st.integers(0, count), kinds), min_size=1, max_size=12)


def _message(letter: Letter, readers: list[Reader], number: int) -> bytes:
    known = letter.reader < len(readers)
    card = readers[letter.reader].card(letter.reader) if known else UNKNOWN_CARD
    sender = f"reader{letter.reader}@example.com"
    if letter.kind == "wrong-sender":
        sender = f"someone{number}@example.net"
    name = "Inna Osoba" if letter.kind == "wrong-name" else f"Jan Czytelnik{letter.reader}"
    lines = ["Dzień dobry,", "proszę o kod Empik Go.", name]
    if letter.kind != "no-card":
        lines.append(f"nr karty {card}")
    body = "\r\n".join(lines)
    return (
        f"From: {name} <{sender}>\r\nTo: multimedia@biblioteka.test\r\n"
        f"Subject: EMPIK GO\r\nMessage-ID: <m{number}@example.com>\r\n"
        "Date: Sun, 01 Nov 2026 08:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def _world(directory: Path, readers: list[Reader], pool: int) -> Path:
    """One database with the readers, their bans and desk codes, and the pool."""
    url = migrated_sqlite(directory, "world.sqlite3")
    app = bootstrap(settings_for(directory, url))
    try:
        add_codes(app.db, Platform.EMPIK_GO, MONTH, "multimedia", [f"EG-{n}" for n in range(pool)])
        for index, reader in enumerate(readers):
            patron_id = add_patron(
                app.db,
                reader.card(index),
                "Jan",
                f"Czytelnik{index}",
                email=f"reader{index}@example.com",
                active=reader.active,
                confirmed=date(2026, 9, 1) if reader.contact_fresh else date(2024, 1, 2),
                balance=120 if reader.debt else 0,
            )
            if reader.banned:
                add_ban(app.db, patron_id, MONTH.plus(-1))
            if reader.code_at_desk:
                give_code(
                    GiveCode(reader.card(index), Platform.EMPIK_GO, Channel.DESK, "multimedia"),
                    uow=app.uow(),
                    library=app.library,
                    debt_source=app.debt_source,
                    now=FIRST_SECOND,
                )
    finally:
        app.db.dispose()
    return directory / "world.sqlite3"


def _decided(world: Path, copy: Path, raws: list[bytes], batch: int) -> list[tuple[object, ...]]:
    """Collect and decide a copy of the world, `batch` requests per transaction: what each
    request got (outcome, code) and what each reply said, in receipt order."""
    shutil.copy(world, copy)
    app: App = bootstrap(settings_for(copy.parent, f"sqlite:///{copy}"))
    try:
        box = FakeMailbox()
        for number, raw in enumerate(raws):
            box.deliver(raw, FIRST_SECOND + timedelta(minutes=number))
        clock = lambda: OPENING  # noqa: E731
        collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=clock)
        app.handle(DecideQueue("multimedia"), clock=clock, batch=batch)
        with app.db.transaction() as session:
            requests = session.exec(select(MailRequest).order_by(col(MailRequest.uid))).all()
            codes = dict(
                session.exec(
                    select(Issuance.id, Code.value).join(Code, col(Code.id) == Issuance.code_id)
                ).all()
            )
            replies = {
                reply.request_id: reply for reply in session.exec(select(OutboxMessage)).all()
            }
        seen: list[tuple[object, ...]] = []
        for request in requests:
            reply = replies.get(request.id)
            text = None
            if reply is not None:
                parsed = message_from_bytes(reply.message.encode(), policy=default)
                assert isinstance(parsed, EmailMessage)
                text = (reply.recipient, parsed["Subject"], reply_text(parsed))
            code = codes.get(request.issuance_id) if request.issuance_id else None
            seen.append((request.uid, request.status, request.outcome, code, request.rules, text))
        return seen
    finally:
        app.db.dispose()


@pytest.mark.parametrize("batch", [2, 250])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_deciding_together_equals_deciding_one_by_one(
    tmp_path_factory: pytest.TempPathFactory, batch: int, data: st.DataObject
) -> None:
    readers = data.draw(readers_st, label="readers")
    letters = data.draw(letters_for(len(readers)), label="letters")
    pool = data.draw(st.integers(0, 6), label="pool")
    directory = tmp_path_factory.mktemp("one-decision")
    world = _world(directory, readers, pool)
    raws = [_message(letter, readers, n) for n, letter in enumerate(letters)]
    together = _decided(world, directory / "together.sqlite3", raws, batch)
    one_by_one = _decided(world, directory / "one-by-one.sqlite3", raws, 1)
    assert together == one_by_one
    # And the property is not empty: every request was decided, codes went out in order.
    assert all(outcome is not None for _, _, outcome, *_ in together)
