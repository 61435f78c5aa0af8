"""End to end on real servers: Dovecot holds the branch mailboxes, aiosmtpd receives the
replies, and the daemon runs as staff run it: `empikgo-mailer run --once --now ...`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from empikgo_mailer.adapters.imap_mailbox import FetchedMessage, ImapMailbox
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.entrypoints.cli import main
from empikgo_mailer.entrypoints.daemon import Daemon
from tests.support.config import MAIL_ENV, write_config
from tests.support.databases import migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.mail import fixture, reply_text
from tests.support.smtp import SmtpServer

WARSAW = ZoneInfo("Europe/Warsaw")
FIXTURES = Path(__file__).parents[2] / "fixtures"
ANSWERED, REJECTED, STAFF = "Empik Go - wydane", "Empik Go - odmowy", "Empik Go - dla obsługi"


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=WARSAW)


@dataclass
class Library:
    config: Path
    dovecot: DovecotServer
    smtp: SmtpServer
    capsys: pytest.CaptureFixture[str]

    def cli(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(["--config", str(self.config), *args])
        return code, self.capsys.readouterr().out

    def deliver(self, user: str, name: str, received: datetime) -> None:
        with self.dovecot.client(user) as client:
            client.append("INBOX", fixture(name), msg_time=received)

    def folder(self, user: str, folder: str) -> list[bytes]:
        with self.dovecot.client(user) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search()
            return (
                [data[b"BODY[]"] for data in client.fetch(uids, ["BODY.PEEK[]"]).values()]
                if uids
                else []
            )

    def replies(self) -> list[EmailMessage]:
        return self.smtp.sink.messages()


@pytest.fixture
def library(
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp: SmtpServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Library:
    for name, value in MAIL_ENV.items():
        monkeypatch.setenv(name, value)
    config = write_config(
        tmp_path,
        migrated_sqlite(tmp_path),
        imap_port=dovecot.port,
        smtp_port=smtp.port,
        fetch_batch=3,
    )
    lib = Library(config, dovecot, smtp, capsys)
    now = "--now=2026-10-30T12:00"
    assert lib.cli("patrons", "import", str(FIXTURES / "patrons.csv"), now)[0] == 0
    pools = {"multimedia": "MM-CODE-1\nMM-CODE-2\nMM-CODE-3\n", "w63": "W63-CODE-1\nW63-CODE-2\n"}
    for branch, codes in pools.items():
        path = tmp_path / f"{branch}.txt"
        path.write_text(codes, encoding="utf-8")
        imported = lib.cli(
            "codes",
            "import",
            str(path),
            "--platform",
            "empik-go",
            "--month",
            "2026-11",
            "--branch",
            branch,
            now,
        )
        assert imported[0] == 0
    return lib


def to_and_code(message: EmailMessage) -> tuple[str, str | None]:
    text = reply_text(message)
    code = next((word for word in text.split() if "-CODE-" in word), None)
    return str(message["To"]), code


def test_a_month_opens_on_real_servers(library: Library) -> None:
    lib = library
    # Written a second before the month: counts for October, so it is refused.
    lib.deliver("multimedia", "gmail.eml", at(31, 23, 59, 59, month=10))
    lib.deliver("multimedia", "thunderbird.eml", at(1, 0, 0, 1))
    lib.deliver("multimedia", "apple_mail.eml", at(1, 0, 0, 2))
    lib.deliver("multimedia", "vacation_autoreply.eml", at(1, 0, 0, 3))
    lib.deliver("multimedia", "phone.eml", at(1, 0, 0, 4))
    lib.deliver("multimedia", "other_subject.eml", at(1, 0, 0, 5))
    lib.deliver("multimedia", "quoted_reply.eml", at(1, 0, 0, 6))  # the pool is empty by then
    lib.deliver("multimedia", "debt.eml", at(1, 0, 0, 7))
    lib.deliver("w63", "encoded_subject.eml", at(1, 0, 0, 1))
    lib.deliver("w63", "outlook_html_only.eml", at(1, 0, 0, 2))
    lib.deliver("w63", "wrong_sender.eml", at(1, 0, 0, 3))
    lib.deliver("w63", "two_cards.eml", at(1, 0, 0, 4))

    # Monday 2 November, 09:59: everything is queued, nothing is answered.
    code, out = lib.cli("run", "--once", "--now=2026-11-02T09:59")
    assert code == 0, out
    assert lib.replies() == []
    status = json.loads(lib.cli("status", "--json", "--now=2026-11-02T09:59")[1])
    assert {q["branch"]: q["waiting"] for q in status["queues"]} == {"multimedia": 6, "w63": 4}

    # 10:00: the Multimedia branch opens and answers in queue order; no. 63 opens at 12:00.
    # Replies carrying a code go out first. The server defers the first reply: it waits its
    # turn, the others go out meanwhile.
    lib.smtp.sink.script = ["451 4.3.0 Temporary local problem"]
    assert lib.cli("run", "--once", "--now=2026-11-02T10:00")[0] == 0
    assert [to_and_code(m) for m in lib.replies()] == [
        ("kasia.wojcik@example.com", "MM-CODE-2"),
        ("tomasz.kaminski@example.com", "MM-CODE-3"),
        ("lukasz.zak@example.com", None),
        ("ewa.wozniak@example.com", None),
        ("jan.kowalski@example.com", None),
    ]
    assert lib.smtp.sink.refused == ["451 4.3.0 Temporary local problem"]
    status = json.loads(lib.cli("status", "--json", "--now=2026-11-02T10:00")[1])
    queues = {q["branch"]: q for q in status["queues"]}
    assert queues["multimedia"]["outbox_pending"] == 1
    assert queues["multimedia"]["pending_error"] == "451 4.3.0 Temporary local problem"
    code, text = lib.cli("status", "--branch", "multimedia", "--now=2026-11-02T10:00")
    assert "ostatni błąd wysyłki: 451 4.3.0 Temporary local problem" in text

    # 10:05: the deferred reply is sent; fetching again queues and answers nothing twice.
    assert lib.cli("run", "--once", "--now=2026-11-02T10:05")[0] == 0
    assert len(lib.replies()) == 6
    assert to_and_code(lib.replies()[5]) == ("piotr.lewandowski@example.com", "MM-CODE-1")
    texts = {str(m["To"]): reply_text(m) for m in lib.replies()}
    assert "przed północą" in texts["lukasz.zak@example.com"]
    assert "pula kodów do platformy Empik Go" in texts["ewa.wozniak@example.com"]
    assert "zaległość (1,20 zł)" in texts["jan.kowalski@example.com"]
    assert all(m["Auto-Submitted"] == "auto-replied" for m in lib.replies())
    assert lib.cli("run", "--once", "--now=2026-11-02T10:10")[0] == 0
    assert len(lib.replies()) == 6

    assert len(lib.folder("multimedia", ANSWERED)) == 3
    assert len(lib.folder("multimedia", REJECTED)) == 3
    assert lib.folder("multimedia", STAFF) == [fixture("vacation_autoreply.eml")]
    assert lib.folder("multimedia", "INBOX") == [fixture("other_subject.eml")]

    # 12:00: branch no. 63 answers its own queue from its own pool.
    assert lib.cli("run", "--once", "--now=2026-11-02T12:00")[0] == 0
    assert [to_and_code(m) for m in lib.replies()[6:]] == [
        ("agnieszka.zielinska@example.com", "W63-CODE-1"),
        ("zofia.wk@example.com", "W63-CODE-2"),
        ("jan.kowalski@example.com", None),
        ("someone.else@example.net", None),  # not on file: a neutral reply, the last
    ]
    assert "więcej niż jeden numer karty" in reply_text(lib.replies()[8])
    assert "nie udało nam się potwierdzić danych czytelnika" in reply_text(lib.replies()[9])
    status = json.loads(lib.cli("status", "--json", "--now=2026-11-02T12:30")[1])
    queues = {q["branch"]: q for q in status["queues"]}
    assert queues["w63"]["waiting"] == 0
    assert queues["w63"]["decided_today"] == {"card-missing": 1, "issued": 2, "stranger": 1}
    assert (
        queues["multimedia"]["outbox_pending"] == 0 and queues["multimedia"]["outbox_failed"] == 0
    )
    pools = {(p["platform"], p["branch"]): p["left"] for p in status["pools"]}
    assert pools[("empik-go", "multimedia")] == 0 and pools[("empik-go", "w63")] == 0


class DroppingMailbox(ImapMailbox):
    """The real adapter, whose connection is cut once, in the middle of the second batch."""

    drops_left = 1
    fetches = 0

    def fetch(self, uids: list[int], max_bytes: int) -> list[FetchedMessage]:  # type: ignore[override]
        DroppingMailbox.fetches += 1
        if DroppingMailbox.fetches == 2 and DroppingMailbox.drops_left:
            DroppingMailbox.drops_left -= 1
            self.client.shutdown()  # the socket is gone, as when the server restarts
        return super().fetch(uids, max_bytes)


def test_imap_connection_dropped_mid_batch_loses_and_repeats_nothing(library: Library) -> None:
    lib = library
    names = [
        "thunderbird.eml",
        "apple_mail.eml",
        "phone.eml",
        "quoted_reply.eml",
        "debt.eml",
        "gmail.eml",
    ]
    for second, name in enumerate(names, start=1):
        lib.deliver("multimedia", name, at(1, 0, 0, second))
    app = bootstrap(load_settings(lib.config, MAIL_ENV), mailbox_factory=DroppingMailbox)
    daemon = Daemon(app, lambda: at(2, 10, 0), reconnect_pauses=(0.1, 0.1))
    daemon.run_once()
    with app.db.transaction() as session:
        queued = session.exec(select(MailRequest.uid).order_by(col(MailRequest.uid))).all()
    app.db.dispose()
    assert DroppingMailbox.drops_left == 0
    assert queued == [1, 2, 3, 4, 5, 6]  # each message queued exactly once
    recipients = [str(m["To"]) for m in lib.replies()]
    assert sorted(recipients) == sorted(set(recipients))  # nobody answered twice
    assert len(recipients) == 6
    assert [to_and_code(m)[1] for m in lib.replies()[:3]] == ["MM-CODE-1", "MM-CODE-2", "MM-CODE-3"]


def test_imap_without_connection_still_decides_the_queue(library: Library) -> None:
    lib = library
    lib.deliver("multimedia", "phone.eml", at(1, 0, 0, 1))
    assert lib.cli("run", "--once", "--now=2026-11-01T09:00")[0] == 0  # Sunday: queued only
    lib.dovecot.stop()
    code, _ = lib.cli("run", "--once", "--now=2026-11-02T10:00")
    assert code == ExitCode.UNREACHABLE  # the queue was decided and sent all the same
    assert [to_and_code(m) for m in lib.replies()] == [("tomasz.kaminski@example.com", "MM-CODE-1")]


def test_a_reader_refused_for_overdue_books_pays_and_gets_a_code(library: Library) -> None:
    lib = library
    code, out = lib.cli("loans", "import", str(FIXTURES / "loans.csv"), "--now=2026-11-16T07:00")
    assert code == 0, out
    assert out.startswith("Wypożyczenia: nowych 5, zmienionych 0, bez zmian 0;")

    # Monday 16 November: one book 6 days late and one returned a day late.
    lib.deliver("multimedia", "overdue_request.eml", at(16, 8, 2, 11))
    assert lib.cli("run", "--once", "--now=2026-11-16T10:00")[0] == 0
    refusal = lib.replies()[-1]
    assert to_and_code(refusal) == ("piotr.lewandowski@example.com", None)
    text = reply_text(refusal)
    assert "jest zaległość (2,10 zł)" in text
    assert "Biblioteka Główna: 2,10 zł, 1 pozycja po terminie" in text
    assert "gotówką w bibliotece" in text
    assert lib.folder("multimedia", REJECTED) == [fixture("overdue_request.eml")]

    # Too little to pay online; the whole balance online unblocks at once and gives the
    # kept book 3 more days, since nobody holds it and a renewal is left.
    pay = ["fines", "pay", "--card", "1000007", "--location", "multimedia", "--method", "online"]
    code, out = lib.cli(*pay, "--amount", "0,40", "--now=2026-11-16T13:00")
    assert code == 3
    assert "od 0,50 zł" in out and "gotówką na miejscu (Biblioteka Główna)" in out
    code, out = lib.cli(*pay, "--amount", "2,10", "--now=2026-11-16T13:00")
    assert code == 0, out
    assert "Egzemplarz 0000123401: 3 dodatkowe dni na zwrot lub prolongatę, do 19 listopada" in out
    assert out.rstrip().endswith("Konto bez zadłużenia i bez blokady.")

    # The reader answers the refusal; the same queue now gives the code.
    lib.deliver("multimedia", "paid_reply.eml", at(16, 13, 40, 52))
    assert lib.cli("run", "--once", "--now=2026-11-16T14:00")[0] == 0
    granted = lib.replies()[-1]
    assert to_and_code(granted) == ("piotr.lewandowski@example.com", "MM-CODE-1")
    assert len(lib.replies()) == 2
    assert lib.folder("multimedia", ANSWERED) == [fixture("paid_reply.eml")]
