"""What an SMTP server's refusals mean for a code (RULES section 8), on real Dovecot,
aiosmtpd and SQLite: "mailbox full", greylisting and a relay's sending limit are
temporary (the reply waits its turn and the code stays the reader's), an unknown user is
permanent (the code is undelivered, and the month close bans nobody for it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.month import Month
from empikgo_mailer.entrypoints.daemon import Daemon
from empikgo_mailer.handlers.month_close import CloseMonth
from tests.support.config import MAIL_ENV, write_config
from tests.support.databases import migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import FIRST_SECOND, request_message, seed_readers
from tests.support.smtp import SmtpServer

WARSAW = ZoneInfo("Europe/Warsaw")
OPENING = datetime(2026, 11, 2, 12, 0, tzinfo=WARSAW)  # both branches open (Monday)
READERS = 8


@pytest.fixture
def library(dovecot: DovecotServer, smtp: SmtpServer, tmp_path: Path) -> Iterator[App]:
    """Readers 0-7 have written (even ones to multimedia, odd ones to no. 63)."""
    url = migrated_sqlite(tmp_path, "library.db")
    seed_readers(url, READERS, READERS)
    for k in range(READERS):
        with dovecot.client(("multimedia", "w63")[k % 2]) as client:
            client.append("INBOX", request_message(k), msg_time=FIRST_SECOND)
    config = write_config(tmp_path, url, imap_port=dovecot.port, smtp_port=smtp.port)
    app = bootstrap(load_settings(config, MAIL_ENV))
    yield app
    app.db.dispose()


def replies(app: App) -> dict[str, tuple[str, str | None]]:
    """Each reader's code reply: its status and the server's last answer."""
    with app.db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT recipient, status, last_error FROM outbox WHERE issuance_id IS NOT NULL")
        )
        return {r.recipient: (r.status, r.last_error) for r in rows}


def undelivered(app: App) -> set[str]:
    with app.db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT p.email FROM issuance i JOIN patron p ON p.id = i.patron_id "
                "WHERE i.undelivered_at IS NOT NULL"
            )
        )
        return {email for (email,) in rows}


def test_temporary_refusals_wait_and_an_unknown_user_makes_the_code_undelivered(
    library: App, smtp: SmtpServer
) -> None:
    smtp.sink.rcpt_answers = {
        "reader0@example.com": ["552 5.2.2 Mailbox full"],
        "reader1@example.com": ["450 4.2.0 Greylisted, please try again later"],
        "reader2@example.com": ["550 5.1.1 <reader2@example.com>: User unknown"],
        "reader3@example.com": ["552 Requested mail action aborted: exceeded storage"],
    }
    Daemon(library, lambda: OPENING).run_once()
    seen = replies(library)
    assert seen["reader0@example.com"] == ("pending", "552 5.2.2 Mailbox full")
    assert seen["reader1@example.com"][0] == "pending"
    assert seen["reader2@example.com"][0] == "failed"
    assert seen["reader3@example.com"][0] == "pending"
    assert {seen[f"reader{k}@example.com"][0] for k in range(4, READERS)} == {"sent"}
    assert undelivered(library) == {"reader2@example.com"}

    # The mailbox has room again, the greylist lets the sender in: the codes arrive.
    smtp.sink.rcpt_answers = {"reader2@example.com": ["550 5.1.1 User unknown"]}
    Daemon(library, lambda: OPENING + timedelta(hours=2)).run_once()
    seen = replies(library)
    assert {seen[f"reader{k}@example.com"][0] for k in (0, 1, 3)} == {"sent"}

    closed = library.handle(
        CloseMonth(Month(2026, 11)), now=datetime(2026, 12, 1, 0, 5, tzinfo=WARSAW)
    )
    assert (closed.undelivered, closed.banned) == (
        1,
        READERS - 1,
    )  # none activated; reader 2 spared
    with library.db.engine.connect() as connection:
        banned = {
            email
            for (email,) in connection.execute(
                text("SELECT p.email FROM ban b JOIN patron p ON p.id = b.patron_id")
            )
        }
    assert "reader2@example.com" not in banned


def test_a_relays_sending_limit_defers_the_codes_instead_of_failing_them(
    library: App, smtp: SmtpServer
) -> None:
    """A relay whose hourly limit a flood used up answers 550 5.7.1 "rate limit": the
    codes wait and go out later; nobody's code is undelivered."""
    smtp.sink.limit_after = 2
    Daemon(library, lambda: OPENING).run_once()
    seen = replies(library)
    assert sorted(status for status, _ in seen.values()) == ["pending"] * 6 + ["sent"] * 2
    assert undelivered(library) == set()

    smtp.sink.limit_after = None
    Daemon(library, lambda: OPENING + timedelta(hours=2)).run_once()
    assert {status for status, _ in replies(library).values()} == {"sent"}


def test_the_greeting_names_the_mail_domain_not_localhost(library: App, smtp: SmtpServer) -> None:
    Daemon(library, lambda: OPENING).run_once()
    assert smtp.sink.greetings
    assert set(smtp.sink.greetings) == {"biblioteka.test"}
