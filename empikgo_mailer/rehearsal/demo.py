"""The rehearsal a newcomer can watch: a month's first morning on throwaway servers.

Dovecot holds both branch mailboxes and an SMTP sink keeps every reply as a file, both on
loopback in a temporary directory. The demo loads the sample readers, loans and this
month's pools with the real commands, delivers the sample mails as they arrive on the
1st (one written before midnight, a forged sender, a debtor, an auto-reply, one without a
card number...), then runs the real daemon and the console at the month's first opening,
until Ctrl-C. Nothing outside the temporary directory is touched.
"""

# Fixed argument lists (no shell): this program's own commands, run as the product runs.
# ruff: noqa: S603

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import click

from empikgo_mailer.config import EXAMPLE_CONFIG, load_settings
from empikgo_mailer.domain.calendar import LibraryCalendar
from empikgo_mailer.domain.month import Month
from empikgo_mailer.rehearsal.dovecot import DovecotServer, DovecotUnavailable
from empikgo_mailer.rehearsal.smtp_sink import SmtpSink

CHECKOUT = Path(__file__).resolve().parents[2]
BRANCHES = ("multimedia", "w63")
DEMO_LOGIN = "demo"
PASS_EVERY = 15.0  # seconds between the daemon's passes


@dataclass(frozen=True)
class Arrival:
    """A sample message, the branch it is sent to, and when it arrives (minutes after
    midnight on the 1st; negative: the evening before)."""

    fixture: str
    branch: str
    minutes: int
    what: str


MORNING = (
    Arrival("gmail.eml", "multimedia", -2, "napisana przed północą"),
    Arrival("phone.eml", "w63", 0, "pierwsza po północy"),
    Arrival("thunderbird.eml", "multimedia", 3, "zwykła prośba"),
    Arrival("wrong_sender.eml", "multimedia", 9, "podszyty nadawca"),
    Arrival("debt.eml", "multimedia", 14, "czytelnik z długiem"),
    Arrival("vacation_autoreply.eml", "w63", 20, "autoodpowiedź"),
    Arrival("no_card.eml", "w63", 31, "bez numeru karty"),
    Arrival("two_cards.eml", "w63", 44, "dwa numery kart"),
    Arrival("apple_mail.eml", "w63", 95, "zwykła prośba"),
    Arrival("outlook_html_only.eml", "multimedia", 130, "tylko HTML"),
)


class DemoError(Exception):
    """Why the demo cannot start, in Polish, for the terminal."""


def _checkout() -> Path:
    if not (CHECKOUT / "fixtures" / "mail").is_dir():
        raise DemoError(
            "Demo korzysta z przykładów w katalogu fixtures/: uruchom je z katalogu "
            "repozytorium (git clone), nie z zainstalowanej paczki."
        )
    return CHECKOUT


def _config(root: Path, checkout: Path, imap_port: int, smtp_port: int) -> Path:
    """The example configuration, pointed at the throwaway servers and directory."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    replacements = {
        'data_dir = "../data"': f'data_dir = "{root / "data"}"',
        'host = "imap.example.org"': 'host = "127.0.0.1"',
        "port = 993": f"port = {imap_port}",
        'security = "ssl"': 'security = "none"',
        'username = "multimedia@bpmokotow.waw.pl"': 'username = "multimedia"',
        'username = "w63@bpmokotow.waw.pl"': 'username = "w63"',
        'host = "smtp.example.org"': 'host = "127.0.0.1"',
        "port = 587": f"port = {smtp_port}",
        'security = "starttls"': 'security = "none"',
        'username = "empikgo@bpmokotow.waw.pl"': 'username = ""',
    }
    for old, new in replacements.items():
        # Whole lines only: a port just written (say 58781) must not match "port = 587".
        text, found = re.subn(rf"^{re.escape(old)}$", new, text, flags=re.MULTILINE)
        if not found:
            raise DemoError(f"przykładowa konfiguracja nie ma już linii {old!r}.")
    path = root / "empikgo.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Demo:
    root: Path
    config: Path
    env: dict[str, str]
    checkout: Path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "empikgo_mailer", "--config", str(self.config), *args]

    def step(self, *args: str, stdin: str | None = None, tolerate: Sequence[int] = ()) -> None:
        done = subprocess.run(
            self.command(*args), env=self.env, input=stdin, capture_output=True, text=True,
            check=False, cwd=self.root,
        )  # fmt: skip
        if done.returncode not in (0, *tolerate):
            raise DemoError(f"`empikgo-mailer {' '.join(args)}` nie powiodło się:\n{done.stderr}")

    def run_pass(self, moment: str) -> None:
        """One pass of the real daemon (`run --once`), its log appended to demon.log."""
        with (self.root / "demon.log").open("ab") as log:
            subprocess.run(
                self.command("-v", "run", "--once", "--now", moment), env=self.env,
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root, check=False, timeout=300,
            )  # fmt: skip

    def spawn(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as stream:
            return subprocess.Popen(
                self.command(*args), env=self.env, stdout=stream, stderr=subprocess.STDOUT,
                cwd=self.root,
            )  # fmt: skip


def _first_opening(calendar: LibraryCalendar, demo: Demo, month_start: datetime) -> datetime:
    settings = load_settings(demo.config, demo.env)
    openings = [
        calendar.next_opening(branch.hours, month_start) for branch in settings.branches.values()
    ]
    found = [moment for moment in openings if moment is not None]
    if not found:
        raise DemoError("Żadna placówka z przykładowej konfiguracji nie ma godzin otwarcia.")
    return min(found)


def _deliver(dovecot: DovecotServer, demo: Demo, month_start: datetime) -> None:
    for arrival in MORNING:
        raw = (demo.checkout / "fixtures" / "mail" / arrival.fixture).read_bytes()
        at = month_start + timedelta(minutes=arrival.minutes)
        with dovecot.client(arrival.branch) as client:
            client.append("INBOX", raw, msg_time=at)
        click.echo(f"  {at:%d.%m %H:%M}  {arrival.branch:<10}  {arrival.what}")


@contextmanager
def _servers(root: Path) -> Iterator[tuple[DovecotServer, SmtpSink, dict[str, str]]]:
    passwords = {branch: secrets.token_urlsafe(12) for branch in BRANCHES}
    try:
        dovecot = DovecotServer(passwords).start()
    except DovecotUnavailable as exc:
        raise DemoError(
            "Demo potrzebuje Dovecota (serwera IMAP), a nie udało się go uruchomić. "
            "Zainstaluj go: `sudo apt-get install dovecot-imapd` (albo `bash scripts/setup.sh`). "
            f"Szczegóły: {exc}"
        ) from None
    sink = SmtpSink(root / "wyslane").start()
    try:
        env = {f"EMPIKGO_IMAP_PASSWORD_{b.upper()}": pw for b, pw in passwords.items()}
        yield dovecot, sink, env
    finally:
        sink.stop()
        dovecot.stop()


def run_demo(port: int, *, calendar: LibraryCalendar, month: Month) -> int:
    """Set the morning up, run the daemon and the console until Ctrl-C or SIGTERM."""
    checkout = _checkout()
    root = Path(tempfile.mkdtemp(prefix="empikgo-demo-"))
    stop = {"asked": False}

    def ask_stop(signum: int, _frame: object) -> None:
        stop["asked"] = True

    # Ctrl-C and SIGTERM both end the demo at the next turn of the loop below. SIGINT is
    # handled explicitly: a shell that starts us in the background leaves it ignored.
    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with _servers(root) as (dovecot, sink, mail_env):
            config = _config(root, checkout, dovecot.port, sink.port)
            password = secrets.token_urlsafe(12)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("EMPIKGO_")},
                **mail_env,
                "EMPIKGO_API_TOKEN": secrets.token_urlsafe(24),
            }
            demo = Demo(root, config, env, checkout)
            month_start = calendar.month_start(month)
            click.echo(f"Próba generalna: pierwszy poranek miesiąca {month} w {root}")
            demo.step("init")
            demo.step("patrons", "import", str(checkout / "fixtures/patrons.csv"), tolerate=(4,))
            demo.step("loans", "import", str(checkout / "fixtures/loans.csv"), tolerate=(4,))
            for branch in BRANCHES:
                demo.step(
                    "codes", "import", str(checkout / f"fixtures/codes/empik-go-{branch}.txt"),
                    "--platform", "empik-go", "--month", str(month), "--branch", branch,
                )  # fmt: skip
            demo.step("codes", "import", str(checkout / "fixtures/codes/legimi.csv"),
                      "--platform", "legimi", "--month", str(month))  # fmt: skip
            demo.step("staff", "add", "--login", DEMO_LOGIN, "--role", "head",
                      "--password-stdin", stdin=password + "\n")  # fmt: skip
            click.echo("Poczta, która przyszła w nocy:")
            _deliver(dovecot, demo, month_start)
            opening = _first_opening(calendar, demo, month_start)
            moment = opening.isoformat(timespec="minutes")
            click.echo(f"Demon i konsola działają w chwili pierwszego otwarcia: {moment}")
            processes.append(
                demo.spawn("web", "--host", "127.0.0.1", "--port", str(port), "--now", moment,
                           log=root / "web.log")
            )  # fmt: skip
            _wait_for(f"http://127.0.0.1:{port}/healthz", processes[0], root / "web.log")
            click.echo(
                f"\nKonsola: http://127.0.0.1:{port}/\n"
                f"  login: {DEMO_LOGIN}\n  hasło: {password}\n"
                f"Odpowiedzi dla czytelników (pliki .eml): {sink.folder}\n"
                f"Dzienniki: {root / 'demon.log'}, {root / 'web.log'}\n"
                f"Demon przechodzi przez skrzynki co {PASS_EVERY:.0f} s.\n"
                "Ctrl-C kończy demo i usuwa katalog tymczasowy.\n"
                "Odpowiedzi wysłane przez demona:",
            )
            # The daemon's passes, all at the moment of the opening (a replayed moment stands
            # still, so the daemon runs pass by pass): what staff settle is sent by the next.
            next_pass = 0.0
            while not stop["asked"]:
                if processes[0].poll() is not None:
                    raise DemoError(f"Konsola zakończyła się:\n{_tail(root / 'web.log')}")
                if time.monotonic() >= next_pass:
                    demo.run_pass(moment)
                    next_pass = time.monotonic() + PASS_EVERY
                time.sleep(0.2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(root, ignore_errors=True)
    click.echo("Demo zakończone.")
    return 0


def _tail(log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return re.sub(r"\n{3,}", "\n\n", text[-3000:])


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the console answers (it migrates nothing, but starting takes a moment)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise DemoError(f"Konsola nie wystartowała:\n{_tail(log)}")
