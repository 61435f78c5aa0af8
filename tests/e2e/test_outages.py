"""Outages on real servers (issue 30): PostgreSQL stopped under a running daemon and web
process, then started again. Each process says the outage once and its end once, with no
traceback; the web answers /metrics with `empikgo_database_up 0`, the claims API and the
console 503 with Retry-After; under `--log-format json` every line it writes is JSON."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.entrypoints.cli import main
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import MAIL_ENV, MAILBOX_PASSWORDS, write_config
from tests.support.data import add_codes
from tests.support.databases import migrated, migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.mail import fixture
from tests.support.outages import StoppablePostgres, program, wait_until
from tests.support.smtp import SmtpServer

FROM = "2026-11-02T10:00"  # a Monday: the multimedia branch is open
TOKEN = "outage-test-token"
ENV = {**MAIL_ENV, "EMPIKGO_API_TOKEN": TOKEN}
OUTAGE_SECONDS = 8
FIXTURES = Path(__file__).parents[2] / "fixtures"
RECEIVED = datetime(2026, 11, 2, 9, 58, tzinfo=ZoneInfo("Europe/Warsaw"))


@pytest.fixture
def cluster() -> Iterator[StoppablePostgres]:
    server = StoppablePostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def stop(process: object, log: Path) -> str:
    import subprocess  # noqa: PLC0415

    assert isinstance(process, subprocess.Popen)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    return log.read_text(encoding="utf-8", errors="replace")


def test_the_daemon_says_a_database_outage_once_and_its_end_once(
    tmp_path: Path, cluster: StoppablePostgres
) -> None:
    url = migrated(cluster.create_database("daemon_outage"))
    dovecot, smtp = DovecotServer(MAILBOX_PASSWORDS).start(), SmtpServer().start()
    try:
        config = write_config(tmp_path, url, imap_port=dovecot.port, smtp_port=smtp.port,
                              busy_timeout=2)  # fmt: skip
        log = tmp_path / "daemon.log"
        daemon = program(config, "-v", "run", "--from", FROM, env=ENV, log=log)
        assert wait_until(lambda: "mail daemon" in log.read_text(), 30), log.read_text()
        time.sleep(2)
        cluster.halt()
        time.sleep(OUTAGE_SECONDS)
        cluster.resume()
        assert wait_until(lambda: "database back after" in log.read_text(), 30), log.read_text()
        time.sleep(2)
        text = stop(daemon, log)
    finally:
        smtp.stop()
        dovecot.stop()
    assert "Traceback" not in text, text[-5000:]
    lines = text.splitlines()
    assert len([line for line in lines if "database down" in line]) == 1, text[-5000:]
    assert len([line for line in lines if "database back after" in line]) == 1, text[-5000:]
    # The first reminder comes after a minute: a 8 s outage is two lines, not a page.
    assert len(lines) < 40, text[-5000:]


def test_the_web_answers_a_database_outage_with_503_and_one_json_line(
    tmp_path: Path, cluster: StoppablePostgres
) -> None:
    url = migrated(cluster.create_database("web_outage"))
    config = write_config(tmp_path, url, busy_timeout=2)
    port, log = free_port(), tmp_path / "web.log"
    web = program(config, "-v", "--log-format", "json", "web", "--port", str(port),
                  "--now", "2027-01-04T10:00", env=ENV, log=log)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    claim = {"card_number": "1000001"}
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        assert wait_until(answers, 30), log.read_text()
        assert "empikgo_database_up 1.0" in httpx.get(f"{base}/metrics", timeout=10).text
        cluster.halt()
        for _ in range(5):  # scraped and called again and again: said once
            metrics = httpx.get(f"{base}/metrics", timeout=10)
            claimed = httpx.post(f"{base}/api/legimi/claims", json=claim, headers=auth,
                                 timeout=10)  # fmt: skip
            page = httpx.get(f"{base}/logowanie", timeout=10)
            ready = httpx.get(f"{base}/readyz", timeout=10)
        assert metrics.status_code == 200
        assert "empikgo_database_up 0.0" in metrics.text
        assert "empikgo_info{" in metrics.text
        assert claimed.status_code == 503, claimed.text
        assert claimed.headers["Retry-After"] == "30"
        assert "niedostępna" in claimed.json()["detail"]
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        # The login page needs no database; a page that does is tested below, as a 503.
        assert page.status_code in {200, 503}
        cluster.resume()
        assert wait_until(
            lambda: "empikgo_database_up 1.0" in httpx.get(f"{base}/metrics", timeout=10).text,
            30,
        )
        text = stop(web, log)
    finally:
        if web.poll() is None:
            web.kill()
    lines = text.splitlines()
    for line in lines:
        json.loads(line)  # every line, uvicorn's included
    messages = [json.loads(line)["message"] for line in lines]
    assert len([m for m in messages if m.startswith("database down")]) == 1, messages
    assert len([m for m in messages if m.startswith("database back after")]) == 1, messages
    assert not [json.loads(line) for line in lines if "exception" in json.loads(line)]
    assert any(json.loads(line)["logger"] == "empikgo_mailer.access" for line in lines)


def test_replies_go_out_in_the_pass_after_the_smtp_server_is_back(tmp_path: Path) -> None:
    """Not after the breaker's pause (a minute after the first failure): the daemon probes
    the server each pass and sends as soon as it answers."""
    url = migrated_sqlite(tmp_path)
    dovecot, smtp_port = DovecotServer(MAILBOX_PASSWORDS).start(), free_port()
    smtp: SmtpServer | None = None
    try:
        config = write_config(tmp_path, url, imap_port=dovecot.port, smtp_port=smtp_port)
        patrons = ["patrons", "import", str(FIXTURES / "patrons.csv"), f"--now={FROM}"]
        assert main(["--config", str(config), *patrons]) in (0, 4)
        db = Database(url)
        add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", ["LIVE-CODE-1"])
        db.dispose()
        log = tmp_path / "daemon.log"
        daemon = program(config, "-v", "run", "--from", FROM, env=ENV, log=log)
        time.sleep(2)
        with dovecot.client("multimedia") as client:
            client.append("INBOX", fixture("phone.eml"), msg_time=RECEIVED)
        assert wait_until(lambda: "SMTP server unreachable" in log.read_text(), 30), (
            log.read_text()[-3000:]
        )
        time.sleep(3)
        smtp = SmtpServer(port=smtp_port).start()
        back = time.monotonic()
        sink = smtp.sink
        assert wait_until(lambda: len(sink.accepted) == 1, 50, step=0.05), log.read_text()
        seconds = time.monotonic() - back
        text = stop(daemon, log)
    finally:
        if smtp is not None:
            smtp.stop()
        dovecot.stop()
    assert seconds < 10, f"the reply went {seconds:.1f} s after the server was back"
    assert "SMTP link back after" in text
    assert "Traceback" not in text
