"""A code reply that a real Postfix takes and later bounces (RULES section 8): Postfix
relays to Dovecot over LMTP, Dovecot refuses an unknown reader (550 5.1.1), Postfix
returns a delivery report to the branch mailbox, and the next pass reads it: the reply is
bounced, the code undelivered, `status` says so, the report is filed and never answered,
and the month close bans nobody for that code."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.entrypoints.daemon import Daemon
from empikgo_mailer.handlers.month_close import CloseMonth
from empikgo_mailer.handlers.undelivered import ReturnCode
from tests.support.config import MAIL_ENV, MAILBOX_PASSWORDS, write_config
from tests.support.data import add_codes, add_patron
from tests.support.databases import migrated_sqlite
from tests.support.postfix import MailRelay, running_relay

WARSAW = ZoneInfo("Europe/Warsaw")
DOMAIN = "biblioteka.test"
OPENING = datetime(2026, 11, 2, 12, 0, tzinfo=WARSAW)  # a Monday, both branches open
KNOWN, UNKNOWN = f"zofia@{DOMAIN}", f"lukasz.zak@{DOMAIN}"  # Dovecot has no "lukasz.zak"


@pytest.fixture
def relay() -> Iterator[MailRelay]:
    """Postfix for biblioteka.test in front of Dovecot: the branch mailboxes and Zofia."""
    with running_relay({**MAILBOX_PASSWORDS, "zofia": "zofia-secret"}) as relay:
        yield relay


def request(sender: str, name: str, card: str, n: int) -> bytes:
    return (
        f"From: {name} <{sender}>\r\nTo: multimedia@{DOMAIN}\r\nSubject: EMPIK GO\r\n"
        f"Message-ID: <prosba-{n}@example.org>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{name}\r\nnr karty {card}\r\n"
    ).encode()


@pytest.fixture
def library(relay: MailRelay, tmp_path: Path) -> Iterator[tuple[App, Path]]:
    url = migrated_sqlite(tmp_path, "library.db")
    db = Database(url)
    add_patron(db, "1000001", "Łukasz", "Żak", email=UNKNOWN)
    add_patron(db, "1000002", "Zofia", "Wiśniewska", email=KNOWN)
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", ["MM-1", "MM-2"])
    db.dispose()
    config = write_config(tmp_path, url, imap_port=relay.dovecot.port, smtp_port=relay.postfix.port)
    # Each reply goes out with a return path of its own (multimedia+r<id>@...).
    text_ = config.read_text(encoding="utf-8")
    config.write_text(text_.replace("[mail]\n", '[mail]\nreturn_path_separator = "+"\n', 1))
    first_second = datetime(2026, 11, 1, 0, 0, 1, tzinfo=WARSAW)
    with relay.dovecot.client("multimedia") as client:
        client.append("INBOX", request(UNKNOWN, "Łukasz Żak", "1000001", 1), msg_time=first_second)
        client.append(
            "INBOX", request(KNOWN, "Zofia Wiśniewska", "1000002", 2), msg_time=first_second
        )
    app = bootstrap(load_settings(config, MAIL_ENV))
    yield app, config
    app.db.dispose()


def test_a_bounced_code_is_undelivered_and_costs_its_reader_nothing(
    relay: MailRelay, library: tuple[App, Path]
) -> None:
    app, config = library
    Daemon(app, lambda: OPENING).run_once()
    relay.wait_for("zofia", lambda raw: b"MM-" in raw, what="Zofia's code")
    report = relay.wait_for(
        "multimedia", lambda raw: b"Undelivered Mail Returned" in raw, what="Postfix's report"
    )
    assert b"multimedia+r" in report  # addressed to the reply's own return path

    Daemon(app, lambda: OPENING + timedelta(minutes=1)).run_once()
    with app.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT recipient, status FROM outbox"))
        replies = {str(to): str(status) for to, status in rows}
        undelivered = connection.execute(
            text("SELECT undelivered_reason FROM issuance WHERE undelivered_at IS NOT NULL")
        ).all()
        requests = connection.execute(
            text("SELECT kind, status FROM mail_request ORDER BY id")
        ).all()
    assert replies == {UNKNOWN: "bounced", KNOWN: "sent"}
    [(reason,)] = undelivered
    assert "5.1.1" in reason
    assert [tuple(r) for r in requests] == [
        ("request", "decided"),
        ("request", "decided"),
        ("bounce", "decided"),  # read, never answered, never on the librarians' list
    ]
    assert len(relay.inbox("multimedia")) == 0  # every message filed
    with relay.dovecot.client("multimedia") as client:
        client.select_folder("Empik Go - zwroty", readonly=True)
        assert len(client.search("ALL")) == 1

    shown = subprocess.run(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), "status",
         "--json", "--now", (OPENING + timedelta(minutes=2)).isoformat()],
        env=MAIL_ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    queue = next(q for q in json.loads(shown.stdout)["queues"] if q["branch"] == "multimedia")
    [code] = queue["undelivered_codes"]
    assert (code["card"], code["sent_to"]) == ("1000001", UNKNOWN)

    december = datetime(2026, 12, 1, 0, 5, tzinfo=WARSAW)
    closed = app.handle(CloseMonth(Month(2026, 11)), now=december)
    assert (closed.expired, closed.banned, closed.undelivered) == (1, 1, 1)  # Zofia only
    with app.db.engine.connect() as connection:
        banned = connection.execute(
            text("SELECT p.email FROM ban b JOIN patron p ON p.id = b.patron_id")
        ).all()
    assert [email for (email,) in banned] == [KNOWN]

    with app.db.engine.connect() as connection:
        issuance_id = connection.execute(
            text("SELECT id FROM issuance WHERE undelivered_at IS NOT NULL")
        ).scalar_one()
    settled = app.handle(ReturnCode(issuance_id, "multimedia", "anna"), now=december)
    assert settled.done and "nie ma za niego blokady" in settled.message
