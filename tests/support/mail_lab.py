"""A library on real servers for fault tests and their benchmark: Dovecot holds both
branch mailboxes, an aiosmtpd sink receives replies, `empikgo-mailer` runs as a real
process (so it can be killed), and `invariants` checks the database against the sink.

Only the command line and plain SQL over tables every schema version has are used, so
the same harness measures older versions too (bench/mail_faults.py, "before" figures).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from tests.support.config import MAIL_ENV, write_config
from tests.support.data import add_codes
from tests.support.dovecot import DovecotServer
from tests.support.smtp import SmtpServer, SmtpSink

WARSAW = ZoneInfo("Europe/Warsaw")
BRANCHES = ("multimedia", "w63")
OPENING = "2026-11-02T12:00"  # a Monday when both branches are open
FIRST_SECOND = datetime(2026, 11, 1, 0, 0, 1, tzinfo=WARSAW)
REPO = Path(__file__).parents[2]


def request_message(n: int, *, message_id: bool = True) -> bytes:
    """Reader n's request, to branch n % 2."""
    mid = f"Message-ID: <lab-{n}@example.com>\r\n" if message_id else ""
    return (
        f"From: Czytelnik {n} <reader{n}@example.com>\r\n"
        f"To: {BRANCHES[n % 2]}@biblioteka.test\r\n"
        f"Subject: EMPIK GO\r\n{mid}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"Dzień dobry,\r\nproszę o kod Empik Go.\r\nCzytelnik Numer{n}\r\n"
        f"nr karty {9_000_000 + n}\r\n"
    ).encode()


def seed_readers(url: str, readers: int, codes_per_branch: int) -> None:
    """Reader n (card 9000000 + n, reader{n}@example.com) for every request_message(n),
    and November's Empik Go pool of each branch."""
    db = Database(url)
    with db.transaction() as session:
        Store(session).insert_patrons(
            [
                {
                    "card_number": str(9_000_000 + n),
                    "first_name": "Czytelnik",
                    "last_name": f"Numer{n}",
                    "email": f"reader{n}@example.com",
                    "active": True,
                    "contact_confirmed_on": date(2026, 9, 1),
                    "opening_balance_grosze": 0,
                    "updated_at": datetime(2026, 10, 1, tzinfo=UTC),
                }
                for n in range(readers)
            ]
        )
    for branch in BRANCHES if codes_per_branch else ():
        values = [f"{branch}-{n:06d}" for n in range(codes_per_branch)]
        add_codes(db, Platform.EMPIK_GO, Month(2026, 11), branch, values)
    db.dispose()


@dataclass(frozen=True)
class Invariants:
    """What must hold after any interruption; every count but `waiting` and `pending`
    must be 0, except `duplicate_deliveries`, bounded by the kills."""

    codes_given_twice: int
    readers_with_two_codes: int
    requests_with_two_replies: int
    duplicate_deliveries: int  # a reply the sink received more than once
    foreign_deliveries: int  # something in the sink that is not in the outbox
    code_to_stranger: int  # a code delivered to anyone but the reader on file
    waiting: int  # requests not decided yet
    pending: int  # replies not sent yet
    delivered: int  # distinct replies the sink holds

    def broken(self) -> dict[str, int]:
        return {
            name: value
            for name, value in vars(self).items()
            if name not in {"waiting", "pending", "delivered", "duplicate_deliveries"} and value
        }


@dataclass
class Lab:
    root: Path
    url: str
    dovecot: DovecotServer
    sink: SmtpSink
    smtp_port: int
    busy_timeout: float = 15.0
    smtp_timeout: float = 10.0
    fetch_batch: int = 200
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config = write_config(
            self.root,
            self.url,
            imap_port=self.dovecot.port,
            smtp_port=self.smtp_port,
            fetch_batch=self.fetch_batch,
            busy_timeout=self.busy_timeout,
            smtp_timeout=self.smtp_timeout,
        )

    # the program, as a process ----------------------------------------------------------
    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "empikgo_mailer", "--config", str(self.config), *args]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **MAIL_ENV, "PYTHONPATH": str(REPO)}

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            env=self.environment(),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.environment(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    # data -----------------------------------------------------------------------------
    def seed(self, readers: int, codes_per_branch: int) -> None:
        seed_readers(self.url, readers, codes_per_branch)

    def deliver(
        self, requests: range, *, message_id: bool = True, at: datetime = FIRST_SECOND
    ) -> None:
        """Requests into the branch mailboxes, received (INTERNALDATE) `at`."""
        for branch in BRANCHES:
            with self.dovecot.client(branch) as client:
                for n in requests:
                    if BRANCHES[n % 2] == branch:
                        client.append(
                            "INBOX", request_message(n, message_id=message_id), msg_time=at
                        )

    def inbox(self, branch: str) -> int:
        with self.dovecot.client(branch) as client:
            client.select_folder("INBOX", readonly=True)
            return len(client.search())

    def count(self, sql: str) -> int:
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                return int(connection.execute(text(sql)).scalar() or 0)
        finally:
            engine.dispose()

    def wait_for(self, sql: str, at_least: int, process: subprocess.Popen[str]) -> None:
        """Until `sql` counts `at_least` while `process` still runs (a pass mid-way)."""
        deadline = time.monotonic() + 60
        while self.count(sql) < at_least:
            assert process.poll() is None, "the pass ended first: nothing would be proven"
            assert time.monotonic() < deadline
            time.sleep(0.02)

    # checks -----------------------------------------------------------------------------
    def invariants(self) -> Invariants:
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:

                def one(sql: str) -> int:
                    return int(connection.execute(text(sql)).scalar() or 0)

                outbox: dict[str, str] = dict(
                    connection.execute(text("SELECT message_id, recipient FROM outbox")).all()
                )
                emails: dict[str, str | None] = dict(
                    connection.execute(
                        text(
                            "SELECT o.message_id, p.email FROM outbox o "
                            "JOIN mail_request r ON r.id = o.request_id "
                            "JOIN issuance i ON i.id = r.issuance_id "
                            "JOIN patron p ON p.id = i.patron_id"
                        )
                    ).all()
                )
                counts = Invariants(
                    codes_given_twice=one(
                        "SELECT count(*) FROM (SELECT code_id FROM issuance "
                        "GROUP BY code_id HAVING count(*) > 1) t"
                    ),
                    readers_with_two_codes=one(
                        "SELECT count(*) FROM (SELECT patron_id FROM issuance "
                        "GROUP BY patron_id, month HAVING count(*) > 1) t"
                    ),
                    requests_with_two_replies=one(
                        "SELECT count(*) FROM (SELECT request_id FROM outbox "
                        "GROUP BY request_id HAVING count(*) > 1) t"
                    ),
                    duplicate_deliveries=0,
                    foreign_deliveries=0,
                    code_to_stranger=0,
                    waiting=one("SELECT count(*) FROM mail_request WHERE status = 'queued'"),
                    pending=one("SELECT count(*) FROM outbox WHERE status = 'pending'"),
                    delivered=0,
                )
        finally:
            engine.dispose()
        delivered: Counter[str] = Counter()
        foreign = stranger = 0
        for _, recipients, content in list(self.sink.accepted):
            message = message_from_bytes(content)
            mid = str(message["Message-ID"])
            delivered[mid] += 1
            if mid not in outbox or recipients != [outbox[mid]]:
                foreign += 1
            elif mid in emails and (emails[mid] or "").casefold() != outbox[mid].casefold():
                stranger += 1
        return Invariants(
            **{
                **vars(counts),
                "duplicate_deliveries": sum(n - 1 for n in delivered.values()),
                "foreign_deliveries": foreign,
                "code_to_stranger": stranger,
                "delivered": len(delivered),
            }
        )


_RECORDED = "SELECT count(*) FROM mail_request"
_DECIDED = "SELECT count(*) FROM mail_request WHERE status <> 'queued'"


def kill_nine_loop(
    lab: Lab, *, seed: str, requests: int, after_each: Callable[[int], None] | None = None
) -> int:
    """`run --once` killed with SIGKILL again and again, then started anew: twice while
    it collects, twice while it decides (after a random number of messages recorded or
    decided), and 8 times from inside the SMTP server while a reply is in flight (sent,
    not yet acknowledged), after a random number of replies. `after_each(kills)` runs
    after every attempt. Returns how many passes were really killed."""
    rng = random.Random(seed)  # noqa: S311 (reproducible moments, not secrets)
    steps: list[tuple[str, int]] = [(_RECORDED, rng.randint(10, requests // 4)) for _ in range(2)]
    steps += [(_DECIDED, rng.randint(10, requests // 5)) for _ in range(2)]
    steps += [("", target) for target in sorted(rng.sample(range(5, requests - 5), 8))]
    engine = create_engine(lab.url)

    def count(sql: str) -> int:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar() or 0)

    kills = 0
    try:
        for sql, step in steps:
            process = lab.spawn("run", "--once", f"--now={OPENING}")
            if sql:
                target = count(sql) + step
                while process.poll() is None and count(sql) < target:
                    time.sleep(0.005)
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)
            else:

                def kill_at(sent: int, pid: int = process.pid, target: int = step) -> None:
                    if sent >= target:
                        os.kill(pid, signal.SIGKILL)

                lab.sink.on_accept = kill_at
            process.communicate(timeout=600)
            lab.sink.on_accept = None
            kills += process.returncode == -signal.SIGKILL
            if after_each is not None:
                after_each(kills)
    finally:
        engine.dispose()
    return kills


def make_lab(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
    *,
    requests: int = 300,
    codes_per_branch: int = 100,  # 200 codes for 300 requests: 100 "no codes left" replies
    smtp_port: int | None = None,
    busy_timeout: float = 15.0,
    smtp_timeout: float = 10.0,
    fetch_batch: int = 200,
) -> Lab:
    """A fresh database (`backend`) with `requests` readers and their requests in Dovecot."""
    from tests.conftest import fresh_database_url  # noqa: PLC0415 (conftest imports support)

    lab = Lab(
        tmp_path,
        fresh_database_url(backend, tmp_path, request),
        dovecot,
        smtp.sink,
        smtp_port or smtp.port,
        busy_timeout=busy_timeout,
        smtp_timeout=smtp_timeout,
        fetch_batch=fetch_batch,
    )
    lab.seed(requests, codes_per_branch)
    lab.deliver(range(requests))
    return lab


def forged_request(n: int, readers: int) -> bytes:
    """A forged request to the multimedia branch from a random address, naming a real
    reader's card (every second one) or a card that does not exist."""
    card = 9_000_000 + n % readers if n % 2 else 8_000_000 + n
    return (
        f"From: <x{n}@forged{n % 97}.example.net>\r\nTo: multimedia@biblioteka.test\r\n"
        f"Subject: EMPIK GO\r\nMessage-ID: <forged-{n}@forged.example.net>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
        f"Czytelnik Numer{n % readers}\r\nnr karty {card}\r\n"
    ).encode()


def deliver_flood(dovecot: DovecotServer, forged: int, readers: int) -> None:
    """`forged` forged requests after midnight on 1 November, and the real readers'
    requests (`request_message`) in the middle of the flood: in receipt order each real
    reader stands behind thousands of forged requests."""
    arrivals = [forged_request(n, readers) for n in range(forged)]
    for k in range(0, readers, 2):  # reader k writes to branch k % 2: multimedia
        arrivals.insert((k + 1) * forged // (readers + 1), request_message(k))
    with dovecot.client("multimedia") as client:
        for start in range(0, len(arrivals), 500):
            chunk = arrivals[start : start + 500]
            client.multiappend("INBOX", [{"msg": m, "date": FIRST_SECOND} for m in chunk])
    with dovecot.client("w63") as client:
        for k in range(1, readers, 2):
            client.append("INBOX", request_message(k), msg_time=FIRST_SECOND)
