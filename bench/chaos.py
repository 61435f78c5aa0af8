"""The chaos table of issue 30: a library on real servers (PostgreSQL, Dovecot, aiosmtpd),
its daemon and web running as processes with JSON logs, broken the way operations break:

1. the daemon killed with SIGKILL mid-burst and started again a second later, as a
   supervisor would (systemd's Restart=, a container's restart policy);
2. PostgreSQL stopped for `--db-outage` seconds (60) while mail arrives;
3. Dovecot stopped for `--imap-outage` seconds (120);
4. the SMTP server gone for `--smtp-outage` seconds (120) while replies wait;
5. web restarted while the catalogue's Legimi claims come in.

For each: the seconds until the work is done again without anyone typing a command, what
was lost or sent twice, how many log lines the daemon and web wrote (and how many were not
JSON, how many carried a traceback), and what `/readyz`, `/metrics`, the claims API and
`status` answered during the outage. The floor of every "time to recover" is the time the
server itself needs to come back (measured beside it).

    .venv/bin/python -m bench.chaos [--db-outage 60] [--imap-outage 120] [--smtp-outage 120]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import MAILBOX_PASSWORDS
from tests.support.data import add_codes
from tests.support.databases import migrated
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import WARSAW, Lab, seed_readers
from tests.support.postgres import PostgresServer, _binary
from tests.support.smtp import SmtpServer

FROM = "2026-11-02T12:00"  # a Monday: both branches open, Legimi claims open since 10:00
TOKEN = "chaos-token"  # noqa: S105
BURST = 300  # requests in the kill -9 scenario
LATE = 40  # requests that arrive during each outage
CLAIMERS = 300  # readers claiming Legimi while web restarts
READERS = BURST + 3 * LATE  # readers who write
WATCHERS = 2000  # readers who only claim Legimi, one new card a second while a server is down
_next_watcher = itertools.count(READERS)


# --- logs -------------------------------------------------------------------------------
@dataclass
class LogFile:
    path: Path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self, mark: int) -> list[str]:
        with self.path.open("rb") as handle:
            handle.seek(mark)
            return handle.read().decode(errors="replace").splitlines()


def log_summary(lines: list[str]) -> str:
    """Lines, lines that are not one JSON object, and tracebacks (JSON or text)."""
    not_json = tracebacks = 0
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            not_json += 1
            tracebacks += line.startswith("Traceback")
            continue
        if not isinstance(entry, dict):
            not_json += 1
        elif "exception" in entry:
            tracebacks += 1
    return f"{len(lines)} lines ({not_json} not JSON, {tracebacks} tracebacks)"


# --- what the outside sees during an outage ---------------------------------------------
@dataclass
class Watch:
    """Polls /readyz, /metrics and a claim (a new reader each time: the per-card limit
    stays out of it) once a second in a thread of its own."""

    base: str
    seen: dict[str, Counter[str]] = field(default_factory=dict)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def note(self, what: str, answer: str) -> None:
        self.seen.setdefault(what, Counter())[answer] += 1

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self.stop_event.wait(1.0):
                self.once(client)

    def once(self, client: httpx.Client) -> None:
        try:
            ready = client.get("/readyz")
            status = ready.json().get("status", "?") if ready.content else "?"
            self.note("/readyz", f"{ready.status_code} {status}")
        except (httpx.HTTPError, ValueError) as exc:
            self.note("/readyz", type(exc).__name__)
        try:
            metrics = client.get("/metrics")
            database_up = next(
                (
                    line.split()[-1]
                    for line in metrics.text.splitlines()
                    if line.startswith("empikgo_database_up")
                ),
                "absent",
            )
            self.note("/metrics", f"{metrics.status_code} database_up={database_up}")
        except httpx.HTTPError as exc:
            self.note("/metrics", type(exc).__name__)
        try:
            claim = client.post(
                "/api/legimi/claims",
                json={"card_number": str(9_000_000 + next(_next_watcher))},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            retry = claim.headers.get("retry-after")
            self.note("claim", f"{claim.status_code}" + (f" Retry-After={retry}" if retry else ""))
        except httpx.HTTPError as exc:
            self.note("claim", type(exc).__name__)

    @contextmanager
    def running(self) -> Iterator[Watch]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop_event.set()
            thread.join()

    def summary(self) -> str:
        return "; ".join(
            f"{what}: " + ", ".join(f"{answer} x{n}" for answer, n in counts.most_common())
            for what, counts in self.seen.items()
        )


# --- the library ------------------------------------------------------------------------
@dataclass
class Library:
    lab: Lab
    postgres: PostgresServer
    smtp: SmtpServer
    root: Path
    web_port: int = field(default_factory=free_port)
    anchor: str = field(default_factory=lambda: datetime.now(WARSAW).isoformat())
    daemon: subprocess.Popen[bytes] | None = None
    web: subprocess.Popen[bytes] | None = None
    daemon_log: LogFile = field(init=False)
    web_log: LogFile = field(init=False)
    _handles: list[IO[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.daemon_log = LogFile(self.root / "daemon.log")
        self.web_log = LogFile(self.root / "web.log")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _spawn(self, log: LogFile, *args: str) -> subprocess.Popen[bytes]:
        handle = log.path.open("ab")
        self._handles.append(handle)
        env = {**self.lab.environment(), "EMPIKGO_API_TOKEN": TOKEN}
        command = self.lab.command("--log-format", "json", "-v", *args)
        return subprocess.Popen(command, env=env, stdout=handle, stderr=handle)

    def start_daemon(self) -> None:
        self.daemon = self._spawn(self.daemon_log, "run", "--from", FROM, "--anchor", self.anchor)

    def start_web(self) -> None:
        self.web = self._spawn(
            self.web_log,
            *("web", "--host", "127.0.0.1", "--port", str(self.web_port)),
            *("--from", FROM, "--anchor", self.anchor),
        )
        wait_until(lambda: self._answers("/healthz"), 60, "web did not start")

    def _answers(self, path: str) -> bool:
        try:
            return httpx.get(self.base + path, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def ready(self) -> bool:
        return self._answers("/readyz")

    def stop(self) -> None:
        for process in (self.daemon, self.web):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for handle in self._handles:
            handle.close()

    def replies(self) -> int:
        return len(self.lab.sink.accepted)

    def status_line(self) -> str:
        try:
            done = self.lab.cli("status", timeout=120)
        except subprocess.TimeoutExpired:
            return "no answer within 120 s"
        first = (done.stdout.strip() or done.stderr.strip()).splitlines()
        return f"exit {done.returncode}: {first[0][:110] if first else ''}"

    # servers going away and coming back ---------------------------------------------
    def stop_postgres(self) -> None:
        pg_ctl = _binary("pg_ctl")
        self.postgres._run([pg_ctl, "-D", str(self.postgres.data), "-m", "fast", "-w", "stop"])

    def start_postgres(self) -> None:
        server = self.postgres
        options = (
            f"-p {server.port} -k {server.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        pg_ctl = _binary("pg_ctl")
        server._run([pg_ctl, "-D", str(server.data), "-o", options, "-l", str(server.log),
                     "-w", "start"])  # fmt: skip

    def stop_smtp(self) -> None:
        self.smtp.stop()

    def start_smtp(self) -> None:
        # A new listener on the same port, handing mail to the same sink.
        self.smtp.controller = Controller(
            self.smtp.sink, hostname="127.0.0.1", port=self.smtp.port, enable_SMTPUTF8=True
        )
        self.smtp.start()


def wait_until(condition: Callable[[], bool], seconds: float, failure: str) -> float:
    """Seconds until `condition` holds; raises after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise TimeoutError(failure)
        time.sleep(0.2)
    return time.monotonic() - started


@dataclass
class Row:
    scenario: str
    recovered: str
    lost_twice: str
    logs: str
    seen: str


def invariants_line(lab: Lab) -> str:
    broken = lab.invariants().broken()
    return "0 lost, 0 twice" if not broken else ", ".join(f"{k}={v}" for k, v in broken.items())


def kill_daemon(library: Library, max_wait: float) -> Row:
    lab = library.lab
    marks = library.daemon_log.mark(), library.web_log.mark()
    lab.deliver(range(BURST))
    wait_until(lambda: library.replies() >= BURST // 5, max_wait, "the burst did not start")
    assert library.daemon is not None
    os.kill(library.daemon.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    library.daemon.wait()
    time.sleep(1.0)  # RestartSec=1 / a container runtime's restart
    library.start_daemon()
    done = wait_until(lambda: library.replies() >= BURST, max_wait, "the burst did not finish")
    finished = time.monotonic() - killed_at
    lines = library.daemon_log.since(marks[0]) + library.web_log.since(marks[1])
    return Row(
        "daemon killed (SIGKILL) mid-burst, restarted 1 s later",
        f"burst finished {finished:.1f} s after the kill ({done:.1f} s after the wait began)",
        invariants_line(lab),
        log_summary(lines),
        f"replies before the kill: >= {BURST // 5} of {BURST}",
    )


@dataclass(frozen=True)
class Outage:
    name: str
    seconds: float
    stop: Callable[[], object]
    start: Callable[[], object]
    deliver_during: bool  # False: the mailbox itself is down, mail arrives after it


def outage(library: Library, broken: Outage, first: int, max_wait: float) -> Row:
    """Stop a server for a while; LATE requests arrive during the outage (or right after
    it, when the mailbox itself is down); then how long until they are all answered."""
    name, seconds, deliver_during = broken.name, broken.seconds, broken.deliver_during
    lab = library.lab
    late = range(first, first + LATE)
    watch = Watch(library.base)
    marks = library.daemon_log.mark(), library.web_log.mark()
    with watch.running():
        broken.stop()
        stopped_at = time.monotonic()
        if deliver_during:
            lab.deliver(late)
        time.sleep(seconds / 2)
        status = library.status_line()
        time.sleep(max(0.0, seconds - (time.monotonic() - stopped_at)))
        back = time.monotonic()
        broken.start()
        server_back = time.monotonic() - back
        if not deliver_during:
            lab.deliver(late)
        ready = wait_until(library.ready, max_wait, f"{name}: /readyz did not come back")
        wait_until(
            lambda: library.replies() >= first + LATE, max_wait, f"{name}: replies never went"
        )
        answered = time.monotonic() - back
        time.sleep(5)  # the lines a recovery writes
    lines = library.daemon_log.since(marks[0]) + library.web_log.since(marks[1])
    daemon_lines = len(library.daemon_log.since(marks[0]))
    return Row(
        f"{name} stopped {seconds:.0f} s",
        f"server up in {server_back:.1f} s; /readyz 200 after {ready:.1f} s; "
        f"the {LATE} waiting requests answered {answered:.1f} s after the server was back",
        invariants_line(lab),
        f"{log_summary(lines)}; daemon {daemon_lines}",
        f"{watch.summary()}; `status` during: {status}",
    )


def web_restart(library: Library, max_wait: float) -> Row:
    """CLAIMERS readers claim Legimi codes from 4 threads, each claim retried until it is
    answered; web is stopped (SIGTERM) and started again a third of the way through. Then
    every reader claims once more and must get the same code."""
    errors: Counter[str] = Counter()
    codes: dict[str, str | None] = {}
    lock = threading.Lock()
    cards = [str(9_000_000 + n) for n in range(READERS + WATCHERS, READERS + WATCHERS + CLAIMERS)]

    def claim(client: httpx.Client, card: str) -> str | None:
        while True:
            try:
                answer = client.post(
                    "/api/legimi/claims",
                    json={"card_number": card},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                if answer.status_code == 200:
                    code: str | None = answer.json().get("code")
                    return code
                with lock:
                    errors[f"HTTP {answer.status_code}"] += 1
            except httpx.HTTPError as exc:
                with lock:
                    errors[type(exc).__name__] += 1
            time.sleep(0.2)

    def worker(part: list[str]) -> None:
        with httpx.Client(base_url=library.base, timeout=10) as client:
            for card in part:
                code = claim(client, card)
                with lock:
                    codes[card] = code
                time.sleep(0.02)

    marks = library.web_log.mark()
    threads = [threading.Thread(target=worker, args=(cards[k::4],)) for k in range(4)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(codes) >= CLAIMERS // 3, max_wait, "claims did not start")
    assert library.web is not None
    restarted_at = time.monotonic()
    library.web.terminate()
    library.web.wait(timeout=30)
    library.start_web()
    down = time.monotonic() - restarted_at
    for thread in threads:
        thread.join()
    again = {}
    with httpx.Client(base_url=library.base, timeout=10) as client:
        for card in cards:
            again[card] = claim(client, card)
    changed = sum(codes[card] != again[card] for card in cards)
    given = [code for code in codes.values() if code]
    twice = len(given) - len(set(given))
    return Row(
        "web restarted (SIGTERM, start) during Legimi claims",
        f"web answering again {down:.1f} s after the stop; all {CLAIMERS} claims answered, "
        f"{len(given)} with a code",
        f"{twice} codes given twice; {changed} readers whose repeated claim changed code",
        log_summary(library.web_log.since(marks)),
        "claim errors while down (each retried): "
        + (", ".join(f"{k} x{n}" for k, n in errors.most_common()) or "none"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-outage", type=float, default=60)
    parser.add_argument("--imap-outage", type=float, default=120)
    parser.add_argument("--smtp-outage", type=float, default=120)
    parser.add_argument("--max-wait", type=float, default=1200, help="per scenario, seconds")
    args = parser.parse_args()
    postgres = PostgresServer().start()
    dovecot = DovecotServer(MAILBOX_PASSWORDS).start()
    smtp = SmtpServer().start()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        url = migrated(postgres.create_database("chaos"))
        seed_readers(url, READERS + WATCHERS + CLAIMERS, READERS)
        db = Database(url)
        add_codes(
            db,
            Platform.LEGIMI,
            Month(2026, 11),
            None,
            [f"LGM-{n:05d}" for n in range(CLAIMERS + WATCHERS)],
        )
        db.dispose()
        lab = Lab(root, url, dovecot, smtp.sink, smtp.port)
        library = Library(lab, postgres, smtp, root)
        try:
            library.start_web()
            library.start_daemon()
            wait_until(library.ready, 120, "the daemon never got ready")
            rows.append(kill_daemon(library, args.max_wait))
            first = BURST
            for broken in (
                Outage("PostgreSQL", args.db_outage, library.stop_postgres,
                       library.start_postgres, deliver_during=True),
                Outage("Dovecot", args.imap_outage, dovecot.halt, dovecot.start,
                       deliver_during=False),
                Outage("SMTP server", args.smtp_outage, library.stop_smtp, library.start_smtp,
                       deliver_during=True),
            ):  # fmt: skip
                rows.append(outage(library, broken, first, args.max_wait))
                first += LATE
            rows.append(web_restart(library, args.max_wait))
        finally:
            library.stop()
            engine = create_engine(url)
            with engine.connect() as connection:
                pending = connection.execute(
                    text("SELECT count(*) FROM outbox WHERE status <> 'sent'")
                ).scalar()
            engine.dispose()
            smtp.stop()
            dovecot.stop()
            postgres.stop()
    for row in rows:
        print(f"## {row.scenario}")
        for label, value in (
            ("recovered", row.recovered),
            ("lost / twice", row.lost_twice),
            ("logs (daemon + web)", row.logs),
            ("seen", row.seen),
        ):
            print(f"  {label}: {value}")
    print(f"replies not sent at the end: {pending}")


if __name__ == "__main__":
    main()
