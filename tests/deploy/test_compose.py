"""compose.yaml brought up with podman-compose as an IT person would (PostgreSQL, the
one-shot init, the daemon, web), on the host network to reach the tests' Dovecot and SMTP
sink: a request delivered into Dovecot is answered, the code is in PostgreSQL, and a
restarted daemon container sends nothing twice. The daemon and web work in a month of the
test's own (a replayed clock, `tests/deploy/compose.ci.yaml`), not on today's date."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import LiteralString
from zoneinfo import ZoneInfo

import psycopg
import pytest

from empikgo_mailer.rehearsal.dovecot import DovecotServer
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import MAILBOX_PASSWORDS, write_config
from tests.support.containers import IMAGE, PODMAN, ROOT, podman
from tests.support.mail import fixture
from tests.support.smtp import SmtpServer

WARSAW = ZoneInfo("Europe/Warsaw")
PASSWORD = "compose-db-secret"
MONTH = "2026-11"
FROM = "2026-11-02T10:00"  # a Monday: the multimedia branch opens at 10:00


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

    def sql(self, query: LiteralString, *params: object) -> list[tuple[object, ...]]:
        url = f"postgresql://empikgo:{PASSWORD}@127.0.0.1:{self.pg_port}/empikgo"
        with psycopg.connect(url, connect_timeout=5) as connection:
            return list(connection.execute(query, params).fetchall())


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
        stack("down", "-v", "-t", "5")


def _wait(check: object, within: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + within
    while True:
        try:
            if check():
                return
        except (OSError, psycopg.Error):
            pass
        assert time.monotonic() < deadline, f"waited {within:.0f} s for {what}"
        time.sleep(0.5)


def test_compose_up_answers_a_request_and_a_restart_sends_nothing_twice(
    compose: Compose, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    started = time.monotonic()
    compose("up", "-d", "db")
    compose.start_clock(within=60)
    compose("up", "-d")
    # The readers and the month's pool, loaded through the running stack's own image.
    compose(
        "run",
        "--rm",
        "-v",
        f"{ROOT / 'fixtures'}:/srv/fixtures:ro",
        "daemon",
        "patrons",
        "import",
        "/srv/fixtures/patrons.csv",
        f"--now={FROM}",
    )
    compose(
        "run",
        "--rm",
        "-v",
        f"{ROOT / 'fixtures'}:/srv/fixtures:ro",
        "daemon",
        "codes",
        "import",
        "/srv/fixtures/codes/empik-go-multimedia.txt",
        "--platform",
        "empik-go",
        "--month",
        MONTH,
        "--branch",
        "multimedia",
        f"--now={FROM}",
    )
    with dovecot.client("multimedia") as client:
        client.append(
            "INBOX", fixture("phone.eml"), msg_time=datetime(2026, 11, 2, 9, 58, tzinfo=WARSAW)
        )
    _wait(lambda: len(smtp.sink.accepted) == 1, 120, "the reply")
    first_reply = time.monotonic() - started
    print(f"compose up to first reply: {first_reply:.1f} s")
    [reply] = smtp.sink.messages()
    assert reply["To"] == "tomasz.kaminski@example.com"
    assert compose.sql("SELECT count(*) FROM issuance") == [(1,)]
    [(code,)] = compose.sql("SELECT c.value FROM issuance i JOIN code c ON c.id = i.code_id")
    assert str(code) in reply.get_content()
    assert compose.sql("SELECT status FROM outbox") == [("sent",)]

    url = f"http://127.0.0.1:{compose.web_port}/readyz"
    _wait(lambda: urllib.request.urlopen(url, timeout=5).status == 200, 60, "/readyz")

    [(beat_before,)] = compose.sql("SELECT beat_at FROM heartbeat")
    compose("restart", "daemon")
    _wait(
        lambda: compose.sql("SELECT beat_at > %s FROM heartbeat", beat_before) == [(True,)],
        90,
        "a pass of the restarted daemon",
    )
    time.sleep(2)
    assert len(smtp.sink.accepted) == 1  # nothing sent twice
    assert compose.sql("SELECT count(*) FROM issuance") == [(1,)]
    podman("ps", "-a")  # visible in the log when something above failed
