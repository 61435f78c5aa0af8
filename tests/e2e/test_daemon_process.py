"""`empikgo-mailer run` as a real process: IDLE wakes it, SIGTERM stops it cleanly. It runs
on a replayed clock from a Monday morning (`run --from`), so the branch is open whatever
day the test runs on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.entrypoints.cli import main
from tests.support.config import MAIL_ENV, write_config
from tests.support.data import add_codes
from tests.support.databases import migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.mail import fixture
from tests.support.smtp import SmtpServer

FIXTURES = Path(__file__).parents[2] / "fixtures"
WARSAW = ZoneInfo("Europe/Warsaw")
FROM = "2026-11-02T10:00"  # a Monday: the multimedia branch opens
RECEIVED = datetime(2026, 11, 2, 9, 58, tzinfo=WARSAW)


def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.1)
    return False


def live_daemon(
    tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer, smtp_options: str = ""
) -> tuple[Path, str, subprocess.Popen[str]]:
    """`run` started on a database with the patrons and one code of the month, its clock
    moving from FROM (the multimedia branch opens at that moment)."""
    url = migrated_sqlite(tmp_path)
    config = write_config(tmp_path, url, imap_port=dovecot.port, smtp_port=smtp.port)
    text = config.read_text(encoding="utf-8").replace("[smtp]\n", f"[smtp]\n{smtp_options}", 1)
    config.write_text(text, encoding="utf-8")
    patrons = ["patrons", "import", str(FIXTURES / "patrons.csv"), f"--now={FROM}"]
    assert main(["--config", str(config), *patrons]) in (0, 4)
    db = Database(url)
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", ["LIVE-CODE-1"])
    db.dispose()
    process = subprocess.Popen(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), "-v", "run",
         "--from", FROM],
        env={**os.environ, **MAIL_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    return config, url, process


def deliver(dovecot: DovecotServer) -> None:
    """A reader's request, received just before the daemon's clock starts."""
    with dovecot.client("multimedia") as client:
        client.append("INBOX", fixture("phone.eml"), msg_time=RECEIVED)


def test_daemon_queues_new_mail_within_seconds_and_stops_on_sigterm(
    tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    _config, url, process = live_daemon(tmp_path, dovecot, smtp)
    db = Database(url)
    try:
        time.sleep(1.5)  # connected and idling
        deliver(dovecot)

        def queued() -> bool:
            with db.transaction() as session:
                return len(session.exec(select(MailRequest)).all()) == 1

        assert wait_for(queued, 10), "new mail was not collected within seconds"
        # The branch is open: the request is decided and answered within seconds too.
        assert wait_for(lambda: len(smtp.sink.accepted) == 1, 10), "no reply within seconds"
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
        db.dispose()
    assert process.returncode == 0, err[-2000:]
    assert "mail daemon stopped" in err
    assert "Traceback" not in err


def test_the_daemon_sends_from_a_second_process_beside_its_threads(
    tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    # From the first queued request: the fork happens while the IDLE watchers and the
    # scheduler run their threads in the daemon.
    _config, _url, process = live_daemon(
        tmp_path, dovecot, smtp, smtp_options="send_while_deciding_from = 1\n"
    )
    try:
        time.sleep(1.5)  # connected and idling
        deliver(dovecot)
        assert wait_for(lambda: len(smtp.sink.accepted) == 1, 15), "no reply within seconds"
        time.sleep(0.5)  # the sender process has ended
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    assert "sending from a second process" in err
    assert "mail daemon stopped" in err
    assert "Traceback" not in err
    assert len(smtp.sink.accepted) == 1
