"""`run --only collect|decide|send`: each runner alone, as a library that runs them as
units of their own would, on real servers. Each does its own part only, and together
they do what a pass does: every request decided in receipt order, every reply sent once;
each stops on SIGTERM."""

from __future__ import annotations

import fcntl
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from empikgo_mailer.domain.errors import ExitCode
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import OPENING, Lab, make_lab
from tests.support.smtp import SmtpServer

REQUESTS = 120
RUNNERS = ("collect", "decide", "send")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def stop(runners: list[subprocess.Popen[str]]) -> list[str]:
    """SIGTERM to each; their standard error once they have ended."""
    for runner in runners:
        runner.send_signal(signal.SIGTERM)
    errors = []
    for runner in runners:
        _out, err = runner.communicate(timeout=10)
        assert runner.returncode == ExitCode.OK, err[-2000:]
        errors.append(err)
    return errors


UNFILED = "SELECT count(*) FROM mail_request WHERE filed_at IS NULL"
NOT_COPIED = "SELECT count(*) FROM outbox WHERE copied_at IS NULL"


def wait_until_done(lab: Lab, delivered: int, seconds: float = 60) -> None:
    """Every reply delivered, every message filed, every copy in Sent (or the time up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (
        lab.invariants().delivered < delivered or lab.count(UNFILED) or lab.count(NOT_COPIED)
    ):
        time.sleep(0.2)


def test_each_runner_alone_does_its_own_part_only(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = make_lab(backend, tmp_path, request, dovecot, smtp, requests=REQUESTS)
    queued = "SELECT count(*) FROM mail_request WHERE status = 'queued'"
    pending = "SELECT count(*) FROM outbox WHERE status = 'pending'"

    decided = lab.cli("run", "--once", "--only", "decide", f"--now={OPENING}")
    assert decided.returncode == ExitCode.OK, decided.stderr[-2000:]
    assert lab.count("SELECT count(*) FROM mail_request") == 0  # no mailbox was read

    collected = lab.cli("run", "--once", "--only", "collect", f"--now={OPENING}")
    assert collected.returncode == ExitCode.OK, collected.stderr[-2000:]
    assert "Nowe prośby: 120; decyzje: brak; wysłane odpowiedzi: 0." in collected.stdout
    assert lab.count(queued) == REQUESTS

    decided = lab.cli("run", "--once", "--only", "decide", f"--now={OPENING}")
    assert decided.returncode == ExitCode.OK, decided.stderr[-2000:]
    assert lab.count(queued) == 0
    assert lab.count(pending) == REQUESTS
    assert lab.invariants().delivered == 0

    sent = lab.cli("run", "--once", "--only", "send", f"--now={OPENING}")
    assert sent.returncode == ExitCode.OK, sent.stderr[-2000:]
    assert f"wysłane odpowiedzi: {REQUESTS}." in sent.stdout
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, REQUESTS), found
    assert found.duplicate_deliveries == 0


def test_the_three_runners_as_units_do_what_a_pass_does(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = make_lab(backend, tmp_path, request, dovecot, smtp, requests=REQUESTS)
    # One replayed clock for the three, starting at the branches' opening hour.
    clock = ["--from", OPENING, "--speed", "1", "--anchor", datetime.now(UTC).isoformat()]
    runners = [lab.spawn("run", "--only", runner, *clock) for runner in RUNNERS]
    try:
        wait_until_done(lab, REQUESTS)
        errors = stop(runners)
    finally:
        for runner in runners:
            if runner.poll() is None:
                runner.kill()
    assert not any("Traceback" in err for err in errors), errors
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, REQUESTS), found
    assert found.duplicate_deliveries == 0
    # Every message filed out of the inbox, each reply copied into Sent once.
    assert lab.count(UNFILED) == 0
    assert lab.count(NOT_COPIED) == 0


def test_two_of_one_runner_never_run_at_once(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    lab = make_lab("sqlite", tmp_path, request, dovecot, smtp, requests=0, busy_timeout=0.5)
    with open(f"{lab.url.removeprefix('sqlite:///')}.decide-lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a decide runner, as far as anyone can tell
        busy = lab.cli("run", "--once", "--only", "decide", f"--now={OPENING}")
        whole = lab.cli("run", "--once", f"--now={OPENING}")
        collect = lab.cli("run", "--once", "--only", "collect", f"--now={OPENING}")
    assert busy.returncode == whole.returncode == ExitCode.DATABASE, (busy.stderr, whole.stderr)
    assert "inny przebieg" in busy.stderr
    assert collect.returncode == ExitCode.OK, collect.stderr[-2000:]
