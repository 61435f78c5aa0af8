"""The fault table: what interruptions and failing servers cost, on real servers.

Each scenario runs `empikgo-mailer run --once` as a real process against Dovecot, an
aiosmtpd sink in this process, and SQLite or PostgreSQL, then finishes with clean passes
and counts what went wrong: replies delivered twice, requests lost (never decided, or
left in the inbox with no record), broken invariants, and how long a pass took.

    python -m bench.mail_faults [--requests 300] [--cap 180] [--only kill9,overlap,...]

The harness uses only the command line and SQL every schema version has, so copying
bench/ and tests/support/ into a checkout of an older commit measures that version.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import MAILBOX_PASSWORDS
from tests.support.databases import migrated, migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import OPENING, Lab, kill_nine_loop
from tests.support.postgres import PostgresServer
from tests.support.smtp import SilentServer, SmtpServer

LATER = "2026-11-02T13:30"  # past every retry pause of the first hour


@dataclass
class Row:
    scenario: str
    backend: str
    runs: str
    duplicates: int
    lost: int
    broken: str
    seconds: str


@dataclass
class World:
    root: Path
    postgres: PostgresServer | None
    requests: int
    cap: float
    counter: int = 0

    @contextmanager
    def lab(
        self, backend: str, *, smtp_port: int | None = None, **options: float
    ) -> Iterator[tuple[Lab, SmtpServer]]:
        self.counter += 1
        directory = self.root / f"run{self.counter}"
        directory.mkdir()
        if backend == "sqlite":
            url = migrated_sqlite(directory)
        else:
            assert self.postgres is not None
            url = migrated(self.postgres.create_database(f"faults{self.counter}"))
        dovecot = DovecotServer(MAILBOX_PASSWORDS).start()
        smtp = SmtpServer().start()
        try:
            lab = Lab(directory, url, dovecot, smtp.sink, smtp_port or smtp.port, **options)  # type: ignore[arg-type]
            lab.seed(self.requests, self.requests // 3)
            lab.deliver(range(self.requests))
            yield lab, smtp
        finally:
            smtp.stop()
            dovecot.stop()

    def finish(self, lab: Lab, now: str = LATER, passes: int = 3) -> None:
        """Clean passes until nothing waits (an old version may need more than one)."""
        for _ in range(passes):
            lab.cli("run", "--once", f"--now={now}", timeout=3600)
            found = lab.invariants()
            if not found.waiting and not found.pending:
                return

    def row(self, scenario: str, backend: str, lab: Lab, runs: str, seconds: str = "") -> Row:
        found = lab.invariants()
        return Row(
            scenario,
            backend,
            runs,
            found.duplicate_deliveries,
            self.requests - _decided(lab.url),
            ", ".join(f"{k}={v}" for k, v in found.broken().items()) or "none",
            seconds,
        )


def _decided(url: str) -> int:
    """Requests that ended decided or set aside (the rest are lost or still waiting)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            sql = "SELECT count(*) FROM mail_request WHERE status IN ('decided', 'set-aside')"
            return int(connection.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def kill9(world: World, backend: str) -> Row:
    with world.lab(backend, fetch_batch=40) as (lab, _):
        kills = kill_nine_loop(lab, seed=f"kill-9-{backend}", requests=world.requests)
        world.finish(lab)
        return world.row("kill -9 during a pass", backend, lab, f"{kills} kills")


def overlap(world: World, backend: str) -> Row:
    with world.lab(backend) as (lab, _):
        passes = [lab.spawn("run", "--once", f"--now={OPENING}") for _ in range(2)]
        codes = []
        for process in passes:
            process.communicate(timeout=world.cap)
            codes.append(process.returncode)
        world.finish(lab)
        return world.row("two passes at once", backend, lab, f"exit {codes}")


def sqlite_held(world: World, backend: str) -> Row:
    with world.lab("sqlite", busy_timeout=1.0) as (lab, _):
        path = make_url(lab.url).database
        assert path is not None

        def hold() -> None:
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            time.sleep(3.0)
            connection.execute("COMMIT")
            connection.close()

        holder = threading.Thread(target=hold)
        lab.sink.on_accept = lambda count: holder.start() if count == 100 else None
        first = lab.cli("run", "--once", f"--now={OPENING}", timeout=world.cap)
        holder.join()
        lab.sink.on_accept = None
        world.finish(lab)
        return world.row("SQLite locked 3 s mid-send", "sqlite", lab, f"exit {first.returncode}")


def _timed_pass(world: World, lab: Lab) -> str:
    started = time.monotonic()
    process = lab.spawn("run", "--once", f"--now={OPENING}")
    try:
        process.communicate(timeout=world.cap)
        return f"{time.monotonic() - started:.1f} s"
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        tried = _tried(lab.url)
        per = f", {world.cap / tried:.1f} s per reply tried" if tried else ""
        return f"> {world.cap:.0f} s (stopped; {tried} replies tried{per})"


def _tried(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            sql = "SELECT count(*) FROM outbox WHERE attempts > 0 OR last_error IS NOT NULL"
            return int(connection.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def smtp_refused(world: World, backend: str) -> Row:
    with world.lab(backend, smtp_port=free_port()) as (lab, _):
        seconds = _timed_pass(world, lab)
        return world.row("SMTP refusing connections", backend, lab, "1 pass", seconds)


def smtp_silent(world: World, backend: str) -> Row:
    silent = SilentServer().start()
    try:
        with world.lab(backend, smtp_port=silent.port, smtp_timeout=30.0) as (lab, _):
            seconds = _timed_pass(world, lab)
            return world.row("SMTP silent (30 s timeout)", backend, lab, "1 pass", seconds)
    finally:
        silent.stop()


SCENARIOS: dict[str, tuple[Callable[[World, str], Row], tuple[str, ...]]] = {
    "kill9": (kill9, ("sqlite", "postgresql")),
    "overlap": (overlap, ("sqlite", "postgresql")),
    "sqlite_held": (sqlite_held, ("sqlite",)),
    "smtp_refused": (smtp_refused, ("sqlite",)),
    "smtp_silent": (smtp_silent, ("sqlite",)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cap", type=float, default=180.0, help="seconds before a pass is stopped")
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    needs_postgres = any("postgresql" in SCENARIOS[name][1] for name in chosen)
    postgres = PostgresServer().start() if needs_postgres else None
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory() as temp:
            world = World(Path(temp), postgres, args.requests, args.cap)
            for name in chosen:
                run, backends = SCENARIOS[name]
                for backend in backends:
                    rows.append(run(world, backend))
                    print(f"  done: {rows[-1]}", flush=True)
    finally:
        if postgres is not None:
            postgres.stop()
    print(f"\nrequests per scenario: {args.requests}")
    print(
        "| scenario | db | runs | duplicate deliveries | lost requests | broken invariants | pass time |"
    )
    print("| --- | --- | --- | ---: | ---: | --- | --- |")
    for r in rows:
        print(
            f"| {r.scenario} | {r.backend} | {r.runs} | {r.duplicates} | {r.lost} | {r.broken} "
            f"| {r.seconds} |"
        )


if __name__ == "__main__":
    main()
