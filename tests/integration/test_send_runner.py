"""`run --only send`: the send runner alone, as a library that runs it as a unit of its
own would, on real servers: it sends what the passes decided, only that (it reads no
mailbox), and stops on SIGTERM."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from empikgo_mailer.domain.errors import ExitCode
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import OPENING, make_lab
from tests.support.smtp import SmtpServer

REQUESTS = 120


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_send_runner_alone_sends_what_the_passes_decided(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    # The passes collect and decide while the SMTP server cannot be reached.
    lab = make_lab(
        backend, tmp_path, request, dovecot, smtp, requests=0, codes_per_branch=0, smtp_port=1
    )
    lab.seed(REQUESTS + 1, 100)
    lab.deliver(range(REQUESTS))
    assert lab.cli("run", "--once", f"--now={OPENING}").returncode == ExitCode.UNREACHABLE
    assert lab.invariants().pending == REQUESTS
    config = lab.config.read_text(encoding="utf-8")
    lab.config.write_text(
        config.replace(
            '[smtp]\nhost = "127.0.0.1"\nport = 1\n',
            f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\n',
        ),
        encoding="utf-8",
    )
    lab.deliver(range(REQUESTS, REQUESTS + 1))  # a new request: not the send runner's work
    stored = lab.count("SELECT count(*) FROM mail_request")

    runner = lab.spawn("run", "--only", "send")
    try:
        deadline = time.monotonic() + 60
        while lab.invariants().delivered < REQUESTS and time.monotonic() < deadline:
            time.sleep(0.2)
        runner.send_signal(signal.SIGTERM)
        _out, err = runner.communicate(timeout=10)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == ExitCode.OK, err[-2000:]
    assert "Traceback" not in err
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.pending, found.delivered, found.duplicate_deliveries) == (0, REQUESTS, 0)
    assert lab.count("SELECT count(*) FROM mail_request") == stored  # no mailbox was read

    # Once: nothing left to send, said in Polish; the pass then finds the new request.
    once = lab.cli("run", "--once", "--only", "send", f"--now={OPENING}")
    assert once.returncode == ExitCode.OK, once.stderr[-2000:]
    assert "Wysłane odpowiedzi: 0." in once.stdout
    assert lab.cli("run", "--once", f"--now={OPENING}").returncode == ExitCode.OK
    assert lab.invariants().delivered == REQUESTS + 1
