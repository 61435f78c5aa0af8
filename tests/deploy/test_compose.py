"""compose.yaml brought up with podman-compose as an IT person would (PostgreSQL, the
one-shot init, the daemon, web, the nightly backup), on the host network to reach the
tests' Dovecot and SMTP sink: a request delivered into Dovecot is answered and the code is
in PostgreSQL; the daemon's container killed with SIGKILL in the middle of a burst comes
back by itself and finishes the burst; a backup taken through compose in the middle of a
burst restores into an empty database. The stack works in a month of the test's own (a
replayed clock, `tests/deploy/compose.ci.yaml`), not on today's date."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import LiteralString
from zoneinfo import ZoneInfo

import psycopg
import pytest

from empikgo_mailer.adapters.schema import head_revision
from empikgo_mailer.rehearsal.dovecot import DovecotServer
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import MAILBOX_PASSWORDS, write_config
from tests.support.containers import IMAGE, PODMAN, ROOT, compose_container, inspect, podman
from tests.support.mail import fixture
from tests.support.mail_lab import Lab
from tests.support.smtp import SmtpServer

WARSAW = ZoneInfo("Europe/Warsaw")
PASSWORD = "compose-db-secret"
MONTH = "2026-11"
FROM = "2026-11-02T12:00"  # a Monday when both branches are open
# The backup service's nightly copy, 45 s into the replayed day (with seconds, for the test).
BACKUP_AT = "12:00:45"
BURST = 150  # requests, one per reader, a code for each
BACKUPS = "/var/backups/empikgo"
# The copy by hand in a directory of its own: its lock is not the nightly copy's, so the
# two never meet, however slow the machine.
BY_HAND = "by-hand"


class Compose:
    def __init__(self, project: str, env_file: Path, config: Path, pg_port: int, web_port: int):
        self.project, self.pg_port, self.web_port = project, pg_port, web_port
        self.env = {
            "EMPIKGO_ENV_FILE": str(env_file),
            "EMPIKGO_CONFIG_FILE": str(config),
            "EMPIKGO_IMAGE": IMAGE,
            "TEST_PG_PORT": str(pg_port),
            "TEST_WEB_PORT": str(web_port),
            "TEST_FROM": FROM,
            "TEST_BACKUP_AT": BACKUP_AT,
            "TEST_ANCHOR": "",  # set once the database container tells the stack's time
        }

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "podman_compose",
            "--podman-path",
            str(PODMAN),
            "-p",
            self.project,
            "-f",
            str(ROOT / "compose.yaml"),
            "-f",
            str(ROOT / "tests/deploy/compose.ci.yaml"),
            *args,
        ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.env},
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done

    def up(self) -> None:
        """The whole stack, as `podman-compose up -d` starts it; back once `init` has
        made the schema (the daemon and web wait for it themselves)."""
        self("up", "-d", "db")
        self.start_clock(within=60)
        self("up", "-d")
        head = head_revision()
        _wait(
            lambda: self.sql("SELECT version_num FROM alembic_version") == [(head,)],
            120,
            "the schema made by init",
        )

    def start_clock(self, within: float) -> None:
        """The replayed clock starts now, as the stack's own database reads the time (the
        containers' clock, which a faked clock of the test's process does not reach)."""
        deadline = time.monotonic() + within
        while True:
            try:
                [(now,)] = self.sql("SELECT now()")
                break
            except psycopg.Error:
                assert time.monotonic() < deadline, "PostgreSQL did not start"
                time.sleep(0.5)
        assert isinstance(now, datetime)
        self.env["TEST_ANCHOR"] = now.isoformat()

    def clock(self) -> list[str]:
        """The options that put a one-off command on the stack's replayed clock."""
        return ["--from", FROM, "--anchor", self.env["TEST_ANCHOR"]]

    def url(self, database: str = "empikgo") -> str:
        return f"postgresql+psycopg://empikgo:{PASSWORD}@127.0.0.1:{self.pg_port}/{database}"

    def sql(
        self, query: LiteralString, *params: object, database: str = "empikgo"
    ) -> list[tuple[object, ...]]:
        url = f"postgresql://empikgo:{PASSWORD}@127.0.0.1:{self.pg_port}/{database}"
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return list(cursor.fetchall()) if cursor.description else []

    def container(self, service: str) -> str:
        return compose_container(self.project, service)

    def volume(self, name: str) -> Path:
        """Where a named volume of the stack lies on this machine."""
        volume = f"{self.project}_{name}"
        return Path(
            podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip()
        )


@pytest.fixture
def compose(
    image: float, tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> Iterator[Compose]:
    pg_port, web_port = free_port(), free_port()
    config = write_config(tmp_path, "", imap_port=dovecot.port, smtp_port=smtp.port)
    lines = config.read_text().splitlines()
    config.write_text("\n".join(line for line in lines if not line.startswith("templates_dir")))
    env_file = tmp_path / "compose.env"
    env_file.write_text(
        f"POSTGRES_PASSWORD={PASSWORD}\n"
        f"EMPIKGO_DATABASE_URL=postgresql+psycopg://empikgo:{PASSWORD}@127.0.0.1:{pg_port}/empikgo\n"
        + "".join(f"EMPIKGO_IMAP_PASSWORD_{u.upper()}={p}\n" for u, p in MAILBOX_PASSWORDS.items())
        + "EMPIKGO_API_TOKEN=catalogue-token\n"
    )
    project = f"empikgo-test-{uuid.uuid4().hex[:8]}"
    stack = Compose(project, env_file, config, pg_port, web_port)
    try:
        yield stack
    finally:
        podman("ps", "-a")  # visible in the log when something above failed
        stack("down", "-v", "-t", "5")


@pytest.fixture
def burst(compose: Compose, tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer) -> Lab:
    """BURST readers and their codes in the stack's database (once `up` has made the
    schema), and the tools to deliver their requests and check the outcome."""
    (tmp_path / "lab").mkdir()
    return Lab(tmp_path / "lab", compose.url(), dovecot, smtp.sink, smtp.port)


def _wait(check: Callable[[], object], within: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if check():
                return
        except (OSError, psycopg.Error):
            pass
        assert time.monotonic() < deadline, f"waited {within:.0f} s for {what}"
        time.sleep(every)


def _burst_mid_way(compose: Compose, lab: Lab) -> None:
    """The burst's requests into Dovecot; back once some replies have left, not all."""
    lab.seed(BURST, BURST)
    lab.deliver(range(BURST))
    _wait(lambda: len(lab.sink.accepted) >= BURST // 10, 120, "the burst's first replies", 0.05)
    assert len(lab.sink.accepted) < BURST, "the burst ended first: nothing would be proven"


def test_compose_up_answers_a_request_and_the_daemon_comes_back_after_sigkill(
    compose: Compose, dovecot: DovecotServer, smtp: SmtpServer, burst: Lab
) -> None:
    started = time.monotonic()
    compose.up()
    # The readers and the month's pool, loaded through the running stack's own image.
    fixtures = f"{ROOT / 'fixtures'}:/srv/fixtures:ro"
    now = f"--now={FROM}"
    compose("run", "--rm", "-v", fixtures, "daemon", "patrons", "import", "/srv/fixtures/patrons.csv", now)  # fmt: skip
    compose(
        "run", "--rm", "-v", fixtures, "daemon", "codes", "import",
        "/srv/fixtures/codes/empik-go-multimedia.txt",
        "--platform", "empik-go", "--month", MONTH, "--branch", "multimedia", now,
    )  # fmt: skip
    with dovecot.client("multimedia") as client:
        client.append(
            "INBOX", fixture("phone.eml"), msg_time=datetime(2026, 11, 2, 11, 58, tzinfo=WARSAW)
        )
    _wait(lambda: len(smtp.sink.accepted) == 1, 120, "the reply")
    print(f"compose up to first reply: {time.monotonic() - started:.1f} s")
    [reply] = smtp.sink.messages()
    assert reply["To"] == "tomasz.kaminski@example.com"
    assert compose.sql("SELECT count(*) FROM issuance") == [(1,)]
    [(code,)] = compose.sql("SELECT c.value FROM issuance i JOIN code c ON c.id = i.code_id")
    assert str(code) in reply.get_content()
    assert compose.sql("SELECT status FROM outbox") == [("sent",)]
    url = f"http://127.0.0.1:{compose.web_port}/readyz"
    _wait(lambda: urllib.request.urlopen(url, timeout=5).status == 200, 60, "/readyz")

    # A crash in the middle of a burst: SIGKILL to the daemon's process, as the kernel's
    # OOM killer would send it. (`podman kill` would not do: podman counts it as stopped
    # by the user and, rightly, does not restart the container.)
    daemon = compose.container("daemon")
    _burst_mid_way(compose, burst)
    # Restarts before the kill: a daemon started before `init` made the schema may have
    # exited once and been started again already (the wait for the schema is its own).
    restarts = int(inspect(daemon, "{{.RestartCount}}"))
    sent_before = len(smtp.sink.accepted)
    killed = time.monotonic()
    os.kill(int(inspect(daemon, "{{.State.Pid}}")), signal.SIGKILL)
    _wait(
        lambda: (
            inspect(daemon, "{{.State.Status}}") == "running"
            and int(inspect(daemon, "{{.RestartCount}}")) == restarts + 1
        ),
        60,
        "the daemon's container running again (nobody typed a command)",
        0.1,
    )
    running_again = time.monotonic() - killed
    _wait(
        lambda: (
            (found := burst.invariants()).waiting == found.pending == 0
            and found.delivered == BURST + 1
        ),
        300,
        "the burst finished",
    )
    finished = time.monotonic() - killed
    print(
        f"SIGKILL after {sent_before} of {BURST} replies ({restarts} restarts before): "
        f"container running again after "
        f"{running_again:.1f} s, burst finished {finished:.1f} s after the kill"
    )
    found = burst.invariants()
    assert found.broken() == {}, found
    assert compose.sql("SELECT count(*) FROM issuance") == [(BURST + 1,)]
    assert compose.sql("SELECT count(*) FROM outbox WHERE status <> 'sent'") == [(0,)]
    # At most the one reply in flight at the kill (accepted by the server, its record not
    # yet written) goes twice (docs/mail.md); every other one exactly once.
    assert found.duplicate_deliveries <= 1, found
    print(f"replies delivered twice: {found.duplicate_deliveries}")
    assert int(inspect(daemon, "{{.RestartCount}}")) == restarts + 1


def test_a_backup_through_compose_mid_burst_restores_into_an_empty_database(
    compose: Compose, burst: Lab
) -> None:
    started = time.monotonic()
    compose.up()
    # A relay that takes 0.1 s a message (as a provider's may): the burst lasts about 15 s,
    # long enough that the copy surely lands in it.
    burst.sink.on_accept = lambda _: time.sleep(0.1)
    _burst_mid_way(compose, burst)
    # The copy an IT person takes by hand, in the running backup service (pg_dump of the
    # image; the stack's replayed clock names it).
    taken = time.monotonic()
    done = compose("exec", "-T", "backup", "empikgo-mailer", "backup", "--into", f"{BACKUPS}/{BY_HAND}", *compose.clock())  # fmt: skip
    print(f"backup through compose: {time.monotonic() - taken:.1f} s")
    assert "Kopia zapasowa zapisana" in done.stdout, done.stdout
    [name] = [
        p.name for p in (compose.volume("backups") / BY_HAND).iterdir() if p.suffix == ".backup"
    ]
    _wait(
        lambda: (
            (found := burst.invariants()).waiting == found.pending == 0 and found.delivered == BURST
        ),
        300,
        "the burst finished",
    )

    compose.sql("CREATE DATABASE restored OWNER empikgo")
    restored = compose(
        "run", "--rm", "-e", f"EMPIKGO_DATABASE_URL={compose.url('restored')}",
        "backup", "restore", f"{BACKUPS}/{BY_HAND}/{name}",
    )  # fmt: skip
    assert f"schemat {head_revision()}" in restored.stdout, restored.stdout

    def rows(query: LiteralString, database: str) -> set[tuple[object, ...]]:
        return set(compose.sql(query, database=database))

    # A moment of the burst: what existed then is there as it was, nothing that did not.
    for query in (
        "SELECT id, card_number, email FROM patron",
        "SELECT id, value, branch_id FROM code",
        "SELECT version_num FROM alembic_version",
    ):
        assert rows(query, "restored") == rows(query, "empikgo"), query
    for query in (
        "SELECT id, code_id, patron_id FROM issuance",
        "SELECT id, message_id FROM mail_request",
        "SELECT id, request_id, message_id FROM outbox",
    ):
        assert rows(query, "restored") <= rows(query, "empikgo"), query
    # The copy is of a moment in the middle of the burst: some of its replies sent.
    [(sent,)] = compose.sql(
        "SELECT count(*) FROM outbox WHERE status = 'sent'", database="restored"
    )
    assert isinstance(sent, int) and 0 < sent < BURST, sent
    # Every decision in the copy has its reply (one transaction: no half of a decision).
    assert compose.sql(
        "SELECT count(*) FROM issuance i JOIN mail_request r ON r.issuance_id = i.id "
        "LEFT JOIN outbox o ON o.request_id = r.id WHERE o.id IS NULL",
        database="restored",
    ) == [(0,)]
    print(f"restored a copy taken with {sent} of {BURST} replies sent")

    # The nightly copy of the backup service, on the stack's clock at BACKUP_AT.
    backups = compose.volume("backups")
    nightly = f"empikgo-20261102-{BACKUP_AT.replace(':', '')}.backup"
    _wait((backups / nightly).exists, 120, "the scheduled backup")
    assert sorted(p.name for p in backups.iterdir() if not p.name.startswith(".")) == sorted(
        {BY_HAND, nightly}
    )
    print(f"test took {time.monotonic() - started:.0f} s")
