"""Outages, measured on real servers (issue 30): log lines while PostgreSQL is down under
a running daemon and web process, and how soon replies go out once SMTP is back.

    PYTHONPATH=. .venv/bin/python bench/outages.py db [--seconds 60]
    PYTHONPATH=. .venv/bin/python bench/outages.py smtp

`db`: the daemon (`-v run`) and the web (`-v --log-format json web`) on a PostgreSQL
cluster of their own, scraped like Prometheus and a catalogue would (each second: GET
/metrics, /readyz, /healthz and one claim); the cluster is stopped for `--seconds` and
started again; the lines each process wrote from the stop to 10 s after the start are
counted (and, for the web, the lines that are not JSON).

`smtp`: the daemon on SQLite, the SMTP server down when a request comes in (the breaker
opens), back 5 s later: the seconds from its return to the reply accepted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file, from any tree

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

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
WARSAW = ZoneInfo("Europe/Warsaw")
FROM = "2026-11-02T10:00"  # a Monday: the multimedia branch is open
TOKEN = "outage-bench-token"  # noqa: S105 (a throwaway token for a local process)
ENV = {**MAIL_ENV, "EMPIKGO_API_TOKEN": TOKEN}


def _get(url: str, data: bytes | None = None) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _scrape(base: str, stop: threading.Event) -> None:
    claim = json.dumps({"card_number": "1000001"}).encode()
    while not stop.is_set():
        for path in ("/metrics", "/readyz", "/healthz"):
            _get(base + path)
        _get(base + "/api/legimi/claims", claim)
        stop.wait(1.0)


def _lines(log: Path, start: int) -> list[str]:
    return log.read_bytes()[start:].decode("utf-8", "replace").splitlines()


def database_outage(seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="empikgo-outage-") as tmp:
        directory = Path(tmp)
        pg = StoppablePostgres()
        pg.start()
        dovecot = DovecotServer(MAILBOX_PASSWORDS).start()
        smtp = SmtpServer().start()
        port = free_port()
        processes = []
        stop = threading.Event()
        try:
            url = migrated(pg.create_database("outage"))
            config = write_config(
                directory, url, imap_port=dovecot.port, smtp_port=smtp.port, busy_timeout=5
            )
            patrons = ["patrons", "import", str(FIXTURES / "patrons.csv"), f"--now={FROM}"]
            assert main(["--config", str(config), *patrons]) in (0, 4)
            daemon_log, web_log = directory / "daemon.log", directory / "web.log"
            processes.append(program(config, "-v", "run", "--from", FROM, env=ENV, log=daemon_log))
            web_args = ("-v", "--log-format", "json", "web", "--port", str(port))
            processes.append(program(config, *web_args, env=ENV, log=web_log))
            base = f"http://127.0.0.1:{port}"
            assert wait_until(lambda: _get(base + "/healthz") == 200, 30), "web did not start"
            scraper = threading.Thread(target=_scrape, args=(base, stop), daemon=True)
            scraper.start()
            time.sleep(5)
            marks = {log: log.stat().st_size for log in (daemon_log, web_log)}
            pg.halt()
            time.sleep(seconds)
            pg.resume()
            time.sleep(10)
            stop.set()
            scraper.join()
            daemon_lines = _lines(daemon_log, marks[daemon_log])
            web_lines = _lines(web_log, marks[web_log])
            not_json = 0
            for line in web_lines:
                try:
                    json.loads(line)
                except ValueError:
                    not_json += 1
            (Path(tempfile.gettempdir()) / "empikgo-outage-daemon.log").write_text(
                "\n".join(daemon_lines), encoding="utf-8"
            )
            (Path(tempfile.gettempdir()) / "empikgo-outage-web.log").write_text(
                "\n".join(web_lines), encoding="utf-8"
            )
            return {
                "outage_seconds": seconds,
                "daemon_lines": len(daemon_lines),
                "web_lines": len(web_lines),
                "web_lines_not_json": not_json,
                "metrics_status_during": None,
            }
        finally:
            stop.set()
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except Exception:
                    process.kill()
            smtp.stop()
            dovecot.stop()
            pg.stop()


def smtp_outage() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="empikgo-smtp-") as tmp:
        directory = Path(tmp)
        dovecot = DovecotServer(MAILBOX_PASSWORDS).start()
        smtp_port = free_port()
        process = None
        smtp = None
        try:
            url = migrated_sqlite(directory)
            config = write_config(directory, url, imap_port=dovecot.port, smtp_port=smtp_port)
            patrons = ["patrons", "import", str(FIXTURES / "patrons.csv"), f"--now={FROM}"]
            assert main(["--config", str(config), *patrons]) in (0, 4)
            db = Database(url)
            add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", ["LIVE-CODE-1"])
            log = directory / "daemon.log"
            process = program(config, "-v", "run", "--from", FROM, env=ENV, log=log)
            time.sleep(2)
            with dovecot.client("multimedia") as client:
                received = datetime(2026, 11, 2, 9, 58, tzinfo=WARSAW)
                client.append("INBOX", fixture("phone.eml"), msg_time=received)
            assert wait_until(lambda: "SMTP server unreachable" in log.read_text(), 30), (
                log.read_text()[-3000:]
            )
            time.sleep(5)
            smtp = SmtpServer(port=smtp_port).start()
            back = time.monotonic()
            sent = wait_until(lambda: len(smtp.sink.accepted) == 1, 600, step=0.05)
            seconds = time.monotonic() - back
            db.dispose()
            return {"reply_sent": sent, "seconds_from_smtp_back_to_reply": round(seconds, 2)}
        finally:
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            if smtp is not None:
                smtp.stop()
            dovecot.stop()


def main_cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("db", "smtp"))
    parser.add_argument("--seconds", type=float, default=60.0)
    arguments = parser.parse_args()
    if arguments.scenario == "db":
        print(json.dumps(database_outage(arguments.seconds)))
    else:
        print(json.dumps(smtp_outage()))


if __name__ == "__main__":
    main_cli()
