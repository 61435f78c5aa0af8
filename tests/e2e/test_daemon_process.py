"""`empikgo-mailer run` as a real process: IDLE wakes it, SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.holidays_pl import PolishHolidays
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.calendar import LibraryCalendar
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
    """`run` started on a database with the patrons and one code of this month, its
    branches open around the clock so that the real clock decides at any hour."""
    url = migrated_sqlite(tmp_path)
    config = write_config(tmp_path, url, imap_port=dovecot.port, smtp_port=smtp.port)
    text = re.sub(r'"\d\d:\d\d-\d\d:\d\d"', '"00:00-23:59"', config.read_text(encoding="utf-8"))
    text = text.replace(
        'fri = "00:00-23:59"', 'fri = "00:00-23:59"\nsat = "00:00-23:59"\nsun = "00:00-23:59"'
    )
    text = text.replace("[smtp]\n", f"[smtp]\n{smtp_options}", 1)
    config.write_text(text.replace('closures = ["2026-11-27"]', "closures = []"), encoding="utf-8")
    assert main(["--config", str(config), "patrons", "import", str(FIXTURES / "patrons.csv")]) in (
        0,
        4,
    )
    db = Database(url)
    now = datetime.now(WARSAW)
    add_codes(db, Platform.EMPIK_GO, Month(now.year, now.month), "multimedia", ["LIVE-CODE-1"])
    db.dispose()
    process = subprocess.Popen(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), "-v", "run"],
        env={**os.environ, **MAIL_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return config, url, process


def test_daemon_queues_new_mail_within_seconds_and_stops_on_sigterm(
    tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    config, url, process = live_daemon(tmp_path, dovecot, smtp)
    db = Database(url)
    try:
        time.sleep(1.5)  # connected and idling
        with dovecot.client("multimedia") as client:
            client.append("INBOX", fixture("phone.eml"))

        def queued() -> bool:
            with db.transaction() as session:
                return len(session.exec(select(MailRequest)).all()) == 1

        assert wait_for(queued, 10), "new mail was not collected within seconds"
        calendar = LibraryCalendar(WARSAW, PolishHolidays())
        hours = load_settings(config, MAIL_ENV).branches["multimedia"].hours
        if calendar.is_open(hours, datetime.now(WARSAW)):
            # Open now: the request is decided and answered within seconds too.
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
        with dovecot.client("multimedia") as client:
            client.append("INBOX", fixture("phone.eml"))
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
