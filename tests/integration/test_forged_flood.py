"""A flood of forged requests beside real readers, on real Dovecot, aiosmtpd and SQLite
(RULES sections 8 and 9): strangers get replies only within the branch's hourly budget,
every real reader gets a code, nothing lands on the librarians' list, and nothing tells
a stranger which card numbers exist. How soon the real readers' codes leave is measured
by `bench.flood`, beside its floor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.entrypoints.daemon import Daemon
from tests.support.config import MAIL_ENV, MAILBOX_PASSWORDS, write_config
from tests.support.databases import migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.mail import reply_text
from tests.support.mail_lab import deliver_flood, seed_readers
from tests.support.smtp import SmtpServer

WARSAW = ZoneInfo("Europe/Warsaw")
OPENING = datetime(2026, 11, 2, 12, 0, tzinfo=WARSAW)  # both branches open (Monday)
READERS = 20
FORGED = 5000
BUDGET = 100  # [mail] stranger_replies_per_hour, the default


@pytest.fixture
def memory_dovecot() -> Iterator[DovecotServer]:
    shm = Path("/dev/shm")  # noqa: S108 (a directory of its own is made inside)
    server = DovecotServer(MAILBOX_PASSWORDS, parent=shm if shm.is_dir() else None).start()
    yield server
    server.stop()


def test_a_forged_flood_gets_no_backscatter_and_real_readers_their_codes_first(
    memory_dovecot: DovecotServer, smtp: SmtpServer, tmp_path: Path
) -> None:
    url = migrated_sqlite(tmp_path, "library.db")
    seed_readers(url, READERS, READERS)
    deliver_flood(memory_dovecot, FORGED, READERS)
    config = write_config(tmp_path, url, imap_port=memory_dovecot.port, smtp_port=smtp.port)
    app = bootstrap(load_settings(config, MAIL_ENV))
    report = Daemon(app, lambda: OPENING).run_once()
    assert report.problem() is None

    replies = smtp.sink.messages()
    to_readers = [m for m in replies if "reader" in str(m["To"])]
    assert {str(m["To"]) for m in to_readers if "oto Twój kod" in reply_text(m)} == {
        f"reader{k}@example.com" for k in range(READERS)
    }
    to_strangers = [m for m in replies if "forged" in str(m["To"])]
    assert len(to_strangers) == BUDGET
    texts = {reply_text(m) for m in to_strangers}
    assert len(texts) == 1, "one neutral text, whether the card exists or not"
    assert "nie udało nam się potwierdzić danych czytelnika" in texts.pop()

    with app.db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT outcome, status, count(*) FROM mail_request GROUP BY outcome, status")
        )
        outcomes = {(str(outcome), str(status)): int(n) for outcome, status, n in rows}
    assert outcomes == {
        ("issued", "decided"): READERS,
        ("stranger", "decided"): BUDGET,
        ("unanswered", "decided"): FORGED - BUDGET,  # counted, never on the staff list
    }
    app.db.dispose()
