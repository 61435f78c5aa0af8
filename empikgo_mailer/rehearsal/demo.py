"""The rehearsal a newcomer can watch: a month's first morning on throwaway servers.

Dovecot holds both branch mailboxes and an SMTP sink keeps every reply as a file, both on
loopback in a temporary directory. The demo loads the sample readers, loans and the
month's pools with the real commands, then starts the real daemon (`run`) and console
(`web`) on one replayed clock (`--from`, `--speed`): it starts a few minutes before
midnight of the 1st and runs an hour in five seconds while the sample mails arrive,
crosses the quiet night in seconds, slows down again as each branch opens and keeps real
time once they all have. Every sample mail is decided in both branches within a minute
or so; the demo says so, and staff can go on in the console until Ctrl-C. Nothing
outside the temporary directory is touched.

Every command runs at the demo's moment, so any month can be rehearsed, past or to come
(for a month to come, the throwaway Dovecot's clock runs ahead: see `DovecotServer`).
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
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import click
import imapclient

from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import EXAMPLE_CONFIG, Settings, load_settings
from empikgo_mailer.domain.calendar import LibraryCalendar
from empikgo_mailer.domain.clock import Clock, Pace, ReplayedClock
from empikgo_mailer.domain.errors import ProgramError
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import month_name
from empikgo_mailer.domain.statuses import RequestStatus
from empikgo_mailer.handlers.requests import ShowQueue, ShowSetAside
from empikgo_mailer.rehearsal.dovecot import DovecotServer, DovecotUnavailable
from empikgo_mailer.rehearsal.smtp_sink import SmtpSink
from empikgo_mailer.rehearsal.timeline import LEAD, paces_for, real_time_from

CHECKOUT = Path(__file__).resolve().parents[2]
BRANCHES = ("multimedia", "w63")
DEMO_LOGIN = "demo"
POLL_SECONDS = 10  # the daemon's pass at least this often: what staff settle goes soon
AHEAD_MARGIN = timedelta(hours=1)  # how far Dovecot's clock leads the demo's, at least
LOOK_EVERY = 0.5  # seconds between the demo's looks at what the daemon decided
STARTING = timedelta(seconds=3)  # the console and the daemon start before the clock moves


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


class DemoError(ProgramError):
    """Why the demo cannot start, in Polish, for the terminal."""


# The month the sample readers and loans of fixtures/ were written for: the demo moves
# their dates to the month it plays, so a loan due on the 10th is due on the 10th and a
# reader's contact data are as fresh, whatever the month (in a later month as written,
# every sample loan would be long overdue and every reader in debt).
SAMPLES_MONTH = Month(2026, 11)
_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b|\b(\d{2})\.(\d{2})\.(\d{4})\b")


def _moved(text: str, days: timedelta) -> str:
    """Every date in `text` (2026-11-10 or 10.11.2026) moved by `days`, in its own form."""

    def move(found: re.Match[str]) -> str:
        if found[1]:
            return (date(int(found[1]), int(found[2]), int(found[3])) + days).isoformat()
        moved = date(int(found[6]), int(found[5]), int(found[4])) + days
        return f"{moved:%d.%m.%Y}"

    return _DATE.sub(move, text)


def samples_for(month: Month, fixtures: Path, folder: Path) -> Path:
    """fixtures/ with the readers' and loans' dates moved to `month`, written to `folder`."""
    days = month.first_day - SAMPLES_MONTH.first_day
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(fixtures / "codes", folder / "codes", dirs_exist_ok=True)
    for name in ("patrons.csv", "loans.csv"):
        text = (fixtures / name).read_text(encoding="utf-8-sig")
        (folder / name).write_text(_moved(text, days), encoding="utf-8")
    return folder


def _config(root: Path, imap_port: int, smtp_port: int) -> Path:
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
        "poll_seconds = 60": f"poll_seconds = {POLL_SECONDS}",
    }
    for old, new in replacements.items():
        # Whole lines only: a port just written (say 58781) must not match "port = 587".
        text, found = re.subn(rf"^{re.escape(old)}$", new, text, flags=re.MULTILINE)
        if not found:
            raise DemoError(f"przykładowa konfiguracja nie ma już linii {old!r}.")
    path = root / "empikgo.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Morning:
    """The month's first morning as the demo plays it: what happens when, and its clock."""

    month: Month
    start: datetime  # what the clock shows first: a few minutes before midnight
    arrivals: tuple[tuple[datetime, Arrival], ...]
    openings: tuple[tuple[datetime, str], ...]  # (when, branch id), in order
    paces: tuple[Pace, ...]

    @classmethod
    def plan(cls, month: Month, calendar: LibraryCalendar, settings: Settings) -> Morning:
        midnight = calendar.month_start(month)
        arrivals = tuple(
            (midnight + timedelta(minutes=arrival.minutes), arrival) for arrival in MORNING
        )
        openings = []
        for branch in settings.branches.values():
            opening = calendar.next_opening(branch.hours, midnight)
            if opening is None:
                raise DemoError(f"Placówka {branch.id} z przykładowej konfiguracji nie ma godzin.")
            openings.append((opening, branch.id))
        openings.sort()
        start = min(at for at, _ in arrivals) - LEAD
        events = [midnight, *(at for at, _ in arrivals), *(at for at, _ in openings)]
        return cls(month, start, arrivals, tuple(openings), tuple(paces_for(start, events)))

    @property
    def real_time_from(self) -> datetime:
        return real_time_from(self.paces)

    def clock_options(self, anchor: datetime) -> list[str]:
        """`run` and `web` get the same replayed clock as the demo's own."""
        options = ["--from", self.start.isoformat(), "--anchor", anchor.isoformat()]
        for pace in self.paces:
            options += ["--speed", f"{pace.since.isoformat()}={pace.speed:g}"]
        return options


@dataclass
class Demo:
    root: Path
    config: Path
    env: dict[str, str]
    now: str  # the demo's first moment: every setup command runs at it

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "empikgo_mailer", "--config", str(self.config), *args]

    def step(self, *args: str, stdin: str | None = None, tolerate: Sequence[int] = ()) -> None:
        done = subprocess.run(
            self.command(*args), env=self.env, input=stdin, capture_output=True, text=True,
            check=False, cwd=self.root,
        )  # fmt: skip
        if done.returncode not in (0, *tolerate):
            raise DemoError(f"`empikgo-mailer {' '.join(args)}` nie powiodło się:\n{done.stderr}")

    def spawn(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as stream:
            return subprocess.Popen(
                self.command(*args), env=self.env, stdout=stream, stderr=subprocess.STDOUT,
                cwd=self.root,
            )  # fmt: skip

    def load_samples(self, month: Month) -> str:
        """Readers, loans, the month's pools and a console login (its password returned),
        as staff load them."""
        at = ("--now", self.now)
        samples = samples_for(month, CHECKOUT / "fixtures", self.root / "samples")
        self.step("init")
        self.step("patrons", "import", str(samples / "patrons.csv"), *at, tolerate=(4,))
        self.step("loans", "import", str(samples / "loans.csv"), *at, tolerate=(4,))
        for branch in BRANCHES:
            self.step(
                "codes", "import", str(samples / f"codes/empik-go-{branch}.txt"),
                "--platform", "empik-go", "--month", str(month), "--branch", branch, *at,
            )  # fmt: skip
        self.step("codes", "import", str(samples / "codes/legimi.csv"),
                  "--platform", "legimi", "--month", str(month), *at)  # fmt: skip
        password = secrets.token_urlsafe(12)
        self.step("staff", "add", "--login", DEMO_LOGIN, "--role", "head",
                  "--password-stdin", *at, stdin=password + "\n")  # fmt: skip
        return password


def _message_id(raw: bytes) -> str:
    return _id_key(str(message_from_bytes(raw, policy=compat32)["Message-ID"] or ""))


def _id_key(message_id: str) -> str:
    return message_id.strip().strip("<>").lower()


class Watcher:
    """Says in the terminal what the morning brings: each event as the clock passes it,
    each sample mail as it arrives and as the daemon decides it."""

    def __init__(
        self, morning: Morning, clock: ReplayedClock, app: App, dovecot: DovecotServer
    ) -> None:
        self.clock, self.app, self.dovecot = clock, app, dovecot
        names = {b.id: b.name for b in app.settings.branches.values()}
        mail = CHECKOUT / "fixtures" / "mail"
        self.raw = {a.fixture: (mail / a.fixture).read_bytes() for a in MORNING}
        self.samples = {_message_id(raw): fixture for fixture, raw in self.raw.items()}
        midnight = app.library.calendar.month_start(morning.month)
        events: list[tuple[datetime, int, str]] = [
            (midnight, 0, f"Północ: zaczyna się {month_name(morning.month)}; od teraz prośby "
                          "się liczą."),
            (morning.real_time_from, 3, "Wszystkie placówki otwarte: zegar biegnie teraz w "
                                        "czasie rzeczywistym."),
        ]  # fmt: skip
        events += [(at, 1, f"Otwiera się {names[b]} ({b}).") for at, b in morning.openings]
        self.events = sorted(events)
        self.to_deliver = list(morning.arrivals)
        self.decided: dict[str, str] = {}  # fixture -> what became of it
        self.told_until = datetime.min.replace(tzinfo=UTC)  # the clock as `tick` last saw it

    @property
    def all_decided(self) -> bool:
        return len(self.decided) == len(MORNING)

    def _say(self, at: datetime, text: str) -> None:
        click.echo(f"  {self.app.library.calendar.local(at):%d.%m %H:%M}  {text}")

    def tick(self) -> None:
        now = self.clock()
        self.told_until = now
        while self.events and self.events[0][0] <= now:
            at, _, text = self.events.pop(0)
            self._say(at, text)
        while self.to_deliver and self.to_deliver[0][0] <= now:
            at, arrival = self.to_deliver.pop(0)
            try:
                with self.dovecot.client(arrival.branch) as client:
                    client.append("INBOX", self.raw[arrival.fixture], msg_time=at)
            except (OSError, imapclient.exceptions.IMAPClientError) as exc:
                raise DemoError(
                    f"Dovecot nie przyjął przykładowej wiadomości {arrival.fixture}: {exc}"
                ) from None
            self._say(at, f"{arrival.branch:<10}  przychodzi: {arrival.what} ({arrival.fixture})")

    def look(self) -> None:
        """What the daemon decided since the last look (the console's own queries)."""
        if self.all_decided:
            return
        now = self.clock()
        for branch in BRANCHES:
            queue = self.app.handle(ShowQueue(branch), now=now)
            aside = self.app.handle(ShowSetAside(branch))
            seen = sorted([*queue.decided_today, *aside], key=lambda r: (r.received_at, r.uid))
            for request in seen:
                fixture = self.samples.get(_id_key(request.message_id or ""))
                if fixture is None or fixture in self.decided:
                    continue
                if request.decided_at is not None and request.decided_at > self.told_until:
                    # Decided after the moment told so far (the night's clock runs fast, and
                    # a busy machine may stall between two looks): told after the events
                    # before it, at a later look.
                    continue
                label = OUTCOME_LABELS.get(request.outcome or "", request.outcome or "")
                if request.status is RequestStatus.SET_ASIDE:
                    label = f"odłożona dla obsługi ({label})"
                self.decided[fixture] = label
                self._say(request.decided_at or now, f"{branch:<10}  {fixture} → {label}")
        if self.all_decided:
            click.echo(
                # Not "10 przykładowe": a numeral from five on takes the genitive plural.
                f"Wszystkie przykładowe wiadomości ({len(MORNING)}) rozstrzygnięte w obu "
                "placówkach. Odłożone czekają na obsługę w konsoli; Ctrl-C kończy demo."
            )


@contextmanager
def _servers(
    root: Path, ahead: timedelta | None
) -> Iterator[tuple[DovecotServer, SmtpSink, dict[str, str]]]:
    passwords = {branch: secrets.token_urlsafe(12) for branch in BRANCHES}
    try:
        dovecot = DovecotServer(passwords, ahead=ahead).start()
    except DovecotUnavailable as exc:
        needs = "Dovecota (serwera IMAP)" if ahead is None else "Dovecota i faketime"
        raise DemoError(
            f"Demo potrzebuje {needs}, a nie udało się go uruchomić. Zainstaluj: "
            "`sudo apt-get install dovecot-imapd faketime` (albo `bash scripts/setup.sh`). "
            f"Szczegóły: {exc}"
        ) from None
    sink = SmtpSink(root / "wyslane").start()
    try:
        env = {f"EMPIKGO_IMAP_PASSWORD_{b.upper()}": pw for b, pw in passwords.items()}
        yield dovecot, sink, env
    finally:
        sink.stop()
        dovecot.stop()


def run_demo(port: int, *, calendar: LibraryCalendar, month: Month, real: Clock) -> int:
    """Set the morning up, run the daemon and the console until Ctrl-C or SIGTERM."""
    if not (CHECKOUT / "fixtures" / "mail").is_dir():
        raise DemoError(
            "Demo korzysta z przykładów w katalogu fixtures/: uruchom je z katalogu "
            "repozytorium (git clone), nie z zainstalowanej paczki."
        )
    morning = Morning.plan(month, calendar, load_settings(EXAMPLE_CONFIG, {}))
    # A month to come: Dovecot would date the mail it is given at its own (real) time.
    lead = morning.real_time_from - real()
    ahead = lead + AHEAD_MARGIN if lead > -AHEAD_MARGIN else None
    root = Path(tempfile.mkdtemp(prefix="empikgo-demo-"))
    stop = threading.Event()
    # Ctrl-C and SIGTERM both end the demo at the next turn of the loop below. SIGINT is
    # handled explicitly: a shell that starts us in the background leaves it ignored.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    processes: list[subprocess.Popen[bytes]] = []
    app: App | None = None
    try:
        with _servers(root, ahead) as (dovecot, sink, mail_env):
            config = _config(root, dovecot.port, sink.port)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("EMPIKGO_")},
                **mail_env,
                "EMPIKGO_API_TOKEN": secrets.token_urlsafe(24),
            }
            demo = Demo(root, config, env, morning.start.isoformat())
            click.echo(f"Próba generalna: pierwszy poranek miesiąca {month} w {root}")
            password = demo.load_samples(month)
            # The clock starts moving once the console is up (it stands still until then).
            anchor = real() + STARTING
            clock_options = morning.clock_options(anchor)
            processes.append(demo.spawn("web", "--host", "127.0.0.1", "--port", str(port),
                                        *clock_options, log=root / "web.log"))  # fmt: skip
            processes.append(demo.spawn("-v", "run", *clock_options, log=root / "demon.log"))
            wait_for(f"http://127.0.0.1:{port}/healthz", processes[0], root / "web.log")
            app = bootstrap(load_settings(config, env))
            clock = ReplayedClock(morning.start, morning.paces, anchor=anchor, real=real)
            watcher = Watcher(morning, clock, app, dovecot)
            click.echo(
                f"Konsola: http://127.0.0.1:{port}/  (login: {DEMO_LOGIN}, hasło: {password})\n"
                f"Odpowiedzi dla czytelników (pliki .eml): {sink.folder}\n"
                f"Dzienniki: {root / 'demon.log'}, {root / 'web.log'}\n"
                "Zegar demonstracji: godzina w 5 s przy zdarzeniach, noc w kilka sekund, "
                "czas rzeczywisty od otwarcia ostatniej placówki. Ctrl-C kończy demo i usuwa "
                "katalog tymczasowy.\nPoranek:"
            )
            # The morning told as it comes; a console or daemon that dies ends it.
            next_look = 0.0
            while not stop.is_set():
                for process, log in zip(processes, ("web.log", "demon.log"), strict=True):
                    if process.poll() is not None:
                        raise DemoError(f"Proces zakończył się:\n{_tail(root / log)}")
                watcher.tick()
                if time.monotonic() >= next_look:
                    watcher.look()
                    next_look = time.monotonic() + LOOK_EVERY
                time.sleep(0.1)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if app is not None:
            app.db.dispose()
        shutil.rmtree(root, ignore_errors=True)
    click.echo("Demo zakończone.")
    return 0


def _tail(log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return re.sub(r"\n{3,}", "\n\n", text[-3000:])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
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
