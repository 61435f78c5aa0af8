"""A full disk, for real: the SQLite database on a small tmpfs that a ballast file fills,
before a pass and while its replies go out, with `run --once` and the daemon as real
processes on Dovecot and an aiosmtpd sink. A full disk is not a busy database: the pass
ends in seconds with one line that says what to do and exit code 7, gives its locks
back, loses and doubles nothing, and the next pass after space is freed finishes the
work. And each pass's exit code says how it went (README, "Exit codes")."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from empikgo_mailer.adapters.sent_journal import RESERVE_BYTES, RESERVE_SUFFIX, SentJournal
from empikgo_mailer.domain.errors import DiskFull, ExitCode
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.databases import migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import OPENING, Lab, make_lab
from tests.support.smtp import SmtpServer, SmtpSink

REQUESTS = 300
FILL_AT = 50  # replies accepted when the disk fills up
DISK_KIB = 8 * 1024  # the database (0.3 MB) and its WAL (3 MB) fit, with room to spare
PASS_SECONDS_BOUND = 30.0  # before: the pass held its lock for 15 minutes and more
THE_LINE = "Brak miejsca na dysku: baza danych ("
NEXT_PASS = "zwolnij miejsce; następny przebieg dokończy pracę"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK_KIB, unmounted afterwards."""
    if os.geteuid() != 0:  # as the Postfix tests: CI runs as root, a missing part fails
        pytest.fail("a full disk is a real tmpfs here, and mounting one takes root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_KIB}k", "tmpfs", str(disk)], check=True
    )
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte with a ballast file; the file."""
    ballast = disk / f"ballast{len(list(disk.glob('ballast*'))) or ''}"
    chunk = b"\xa5" * 65536
    descriptor = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    stopped_by = 0
    try:
        while not stopped_by:
            try:
                os.write(descriptor, chunk)
            except OSError as exc:
                stopped_by = exc.errno or -1
    finally:
        os.close(descriptor)
    assert stopped_by == errno.ENOSPC
    assert os.statvfs(disk).f_bavail == 0
    return ballast


def lab_on(
    disk: Path,
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp: SmtpServer,
    requests: int = REQUESTS,
    codes_per_branch: int = 100,
) -> Lab:
    """The mail lab with its SQLite database (and so its journal and locks) on `disk`."""
    lab = Lab(tmp_path, migrated_sqlite(disk), dovecot, smtp.sink, smtp.port)
    lab.seed(requests, codes_per_branch)
    lab.deliver(range(requests))
    return lab


# The send phase logs a claim that was on its way when the disk filled up with its
# traceback (handlers/mail_send.py, `claims_settled`, not this change's to touch): it
# happens when the fill comes as the next claim starts, as at FILL_AT here.
CLAIM_IN_FLIGHT = "claiming the next replies failed"


def log_lines(stderr: str, level: str) -> list[str]:
    """The log lines of `level`, but for a claim on its way (above)."""
    lines = stderr.splitlines()
    return [line for line in lines if f" {level} " in line and CLAIM_IN_FLIGHT not in line]


def tracebacks(stderr: str) -> list[str]:
    """The log lines that came with a traceback, but for a claim on its way (above)."""
    heads, last = [], ""
    for line in stderr.splitlines():
        if line[:4].isdigit():  # a log line starts with its time
            last = line
        elif line.startswith("Traceback") and CLAIM_IN_FLIGHT not in last:
            heads.append(last or line)
    return heads


def assert_sound(lab: Lab) -> None:
    found = lab.invariants()
    assert found.broken() == {}, found
    assert found.duplicate_deliveries == 0, found


def assert_finished(lab: Lab, requests: int = REQUESTS) -> None:
    """Every request decided and answered, each reply delivered once and recorded."""
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, requests), found
    assert found.duplicate_deliveries == 0, found
    assert len(lab.sink.accepted) == requests  # the sink counts each reply once
    assert lab.count("SELECT count(*) FROM outbox WHERE status = 'sent'") == requests


def test_the_sender_journal_records_what_left_in_the_room_it_kept(small_disk: Path) -> None:
    path = small_disk / "empikgo.sqlite3.sent-journal"
    reserve = path.with_name(path.name + RESERVE_SUFFIX)
    at = datetime(2026, 11, 2, 11, 0, tzinfo=UTC)
    journal = SentJournal(path, busy_timeout=1.0)
    try:
        assert reserve.stat().st_size == RESERVE_BYTES
        journal.record("pass-a", [(1, at)])
        fill(small_disk)
        last, place = 1, ""
        for reply_id in range(2, 100_000):
            try:
                journal.record("pass-a", [(reply_id, at)])
            except DiskFull as full:
                last, place = reply_id, full.place
                break
        assert place == str(small_disk)
        # The reply whose record met the full disk is recorded all the same, in the
        # reserve's room; the error stops its sender before another reply leaves.
        assert 1 < last < 100_000
        assert [e.reply_id for e in journal.entries()] == list(range(1, last + 1))
        assert not reserve.exists()
    finally:
        journal.close()
    # With the disk still full, no sender starts: it could not keep its promise.
    fill(small_disk)
    with pytest.raises(DiskFull):
        SentJournal(path, busy_timeout=1.0)
    assert not reserve.exists()  # no part of a reserve left behind
    for ballast in small_disk.glob("ballast*"):
        ballast.unlink()
    again = SentJournal(path, busy_timeout=1.0)
    try:
        assert reserve.stat().st_size == RESERVE_BYTES
        assert [e.reply_id for e in again.entries()] == list(range(1, last + 1))
    finally:
        again.close()


@pytest.mark.parametrize("beside", [False, True], ids=["after-deciding", "sender-beside"])
def test_a_disk_that_fills_up_while_replies_go_out_stops_the_pass_in_seconds(
    beside: bool, small_disk: Path, tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    lab = lab_on(small_disk, tmp_path, dovecot, smtp)
    if beside:  # sent from a forked sender while the pass still decides
        text = lab.config.read_text()
        lab.config.write_text(text.replace("[smtp]\n", "[smtp]\nsend_while_deciding_from = 10\n"))
    filled = threading.Event()

    def fill_up(accepted: int) -> None:
        if accepted == FILL_AT:
            fill(small_disk)
            filled.set()

    lab.sink.on_accept = fill_up
    started = time.monotonic()
    stopped = lab.cli("run", "--once", f"--now={OPENING}")
    seconds = time.monotonic() - started
    lab.sink.on_accept = None
    print(f"\n[disk full while sending, beside={beside}] the pass ended after {seconds:.1f} s")
    assert filled.is_set()
    assert stopped.returncode == ExitCode.DISK_FULL, stopped.stderr[-3000:]
    assert seconds < PASS_SECONDS_BOUND
    # One line for the operator; no "disk I/O error", no "busy database" retried.
    [line] = [line for line in stopped.stderr.splitlines() if line.startswith(THE_LINE)]
    assert NEXT_PASS in line
    assert "disk I/O error" not in stopped.stderr and "is busy" not in stopped.stderr
    assert "wysłane odpowiedzi: nie wiadomo ile (przebieg przerwany)." in stopped.stdout
    if not beside:
        # And one line in the log, without a traceback. (A sender beside the pass logs
        # its own failure with one, and the pass that it failed: entrypoints/sending.py
        # hands back only the error's text.)
        [logged] = log_lines(stopped.stderr, "ERROR")
        assert "no space left to write in" in logged and "the pass stops (send)" in logged
        assert log_lines(stopped.stderr, "WARNING") == []
        assert tracebacks(stopped.stderr) == []
    # Nothing lost or doubled: what left is in the outbox or in the sender's journal.
    sent = len(lab.sink.accepted)
    assert FILL_AT <= sent < REQUESTS
    assert_sound(lab)

    # The locks were given back: a second pass starts at once. The disk is still full,
    # so it sends nothing and says so, in seconds again.
    started = time.monotonic()
    again = lab.cli("run", "--once", f"--now={OPENING}")
    seconds_again = time.monotonic() - started
    assert again.returncode == ExitCode.DISK_FULL, again.stderr[-3000:]
    assert seconds_again < PASS_SECONDS_BOUND
    assert THE_LINE in again.stderr and "inny przebieg" not in again.stderr
    assert len(lab.sink.accepted) == sent

    # `status` tells the operator too: with a line of its own when it can read the
    # database, or with the same message when even reading needs room SQLite lacks.
    shown = lab.cli("status", f"--now={OPENING}")
    if shown.returncode == ExitCode.OK:
        assert f"BRAK MIEJSCA NA DYSKU: baza danych ({small_disk}) " in shown.stdout
    else:
        assert shown.returncode == ExitCode.DISK_FULL, shown.stderr
        assert shown.stderr.startswith(f"{THE_LINE}{small_disk})")

    # Space again: the next pass sends the rest, each reply once, and records it.
    (small_disk / "ballast").unlink()
    done = lab.cli("run", "--once", f"--now={OPENING}")
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    assert f"wysłane odpowiedzi: {REQUESTS - sent}." in done.stdout
    assert_finished(lab)
    with closing(sqlite3.connect(small_disk / "empikgo.sqlite3")) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    document = json.loads(lab.cli("status", "--json", f"--now={OPENING}").stdout)
    assert document["database_disk"]["full"] is False


@pytest.mark.parametrize("held_open", [False, True], ids=["at-start", "at-first-write"])
def test_a_full_disk_before_the_pass_says_so_and_the_next_pass_does_the_work(
    held_open: bool,
    small_disk: Path,
    tmp_path: Path,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    requests = 30
    lab = lab_on(small_disk, tmp_path, dovecot, smtp, requests=requests, codes_per_branch=10)
    database = small_disk / "empikgo.sqlite3"
    # At start nothing holds the database: SQLite cannot even make its shared-memory
    # file (a "disk I/O error"). Held open (a reader in a transaction, say `status`),
    # that file is there and the first write is what finds no room.
    reader = sqlite3.connect(database, isolation_level=None) if held_open else None
    if reader is not None:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM outbox").fetchone()
    try:
        ballast = fill(small_disk)
        started = time.monotonic()
        refused = lab.cli("run", "--once", f"--now={OPENING}")
        seconds = time.monotonic() - started
    finally:
        if reader is not None:
            reader.close()
    assert refused.returncode == ExitCode.DISK_FULL, refused.stderr[-3000:]
    assert seconds < PASS_SECONDS_BOUND
    assert f"{THE_LINE}{small_disk}) nie może nic zapisać — {NEXT_PASS}" in refused.stderr
    assert "disk I/O error" not in refused.stderr and tracebacks(refused.stderr) == []
    assert lab.sink.accepted == []
    if not held_open:
        # Any command: the same message, and what to do then.
        shown = lab.cli("status", f"--now={OPENING}")
        assert shown.returncode == ExitCode.DISK_FULL
        assert shown.stderr == (
            f"{THE_LINE}{small_disk}) nie może nic zapisać — zwolnij miejsce i uruchom "
            "polecenie ponownie.\n"
        )

    ballast.unlink()
    done = lab.cli("run", "--once", f"--now={OPENING}")
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    assert_finished(lab, requests)


def test_the_daemon_goes_on_through_a_full_disk_and_finishes_once_there_is_room(
    small_disk: Path, tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    lab = lab_on(small_disk, tmp_path, dovecot, smtp)
    filled = threading.Event()

    def fill_up(accepted: int) -> None:
        if accepted == FILL_AT:
            fill(small_disk)
            filled.set()

    lab.sink.on_accept = fill_up
    daemon = lab.spawn("run", f"--from={OPENING}", "--speed=1")
    try:
        assert filled.wait(60), "the daemon never sent its 50th reply"
        lab.sink.on_accept = None
        time.sleep(4)  # passes every second (poll_seconds = 1), each meeting the full disk
        assert daemon.poll() is None, "the daemon ended on a full disk"
        sent = len(lab.sink.accepted)
        assert sent < REQUESTS
        (small_disk / "ballast").unlink()
        deadline = time.monotonic() + 60
        while len(lab.sink.accepted) < REQUESTS:
            assert time.monotonic() < deadline, f"{len(lab.sink.accepted)} sent"
            assert daemon.poll() is None
            time.sleep(0.1)
        beat = json.loads(lab.cli("status", "--json", f"--now={OPENING}").stdout)["daemon"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == ExitCode.OK, err[-3000:]
    assert tracebacks(err) == [], err
    # Said once, although the daemon tried pass after pass while the disk was full.
    [full] = log_lines(err, "ERROR")
    assert "no space left to write in" in full and "the pass stops (send)" in full
    assert beat is not None
    assert_finished(lab)


class RefusingSink(SmtpSink):
    """Refuses some recipients for good at RCPT TO, as a server that knows no such user."""

    def __init__(self, refused: set[str]) -> None:
        super().__init__()
        self.refused_recipients = refused

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refused_recipients:
            return "550 5.1.1 unknown user"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"


class RefusingServer(SmtpServer):
    sink: RefusingSink

    def __init__(self, refused: set[str]) -> None:
        self.sink = RefusingSink(refused)
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)


@pytest.fixture
def refusing_smtp() -> Iterator[SmtpServer]:
    server = RefusingServer({"reader0@example.com", "reader3@example.com"}).start()
    yield server
    server.stop()


@pytest.mark.parametrize("smtp_case", ["clean", "unreachable", "refused"])
def test_each_pass_exits_with_its_documented_code(
    smtp_case: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
) -> None:
    server: SmtpServer = request.getfixturevalue(
        "refusing_smtp" if smtp_case == "refused" else "smtp"
    )
    port = free_port() if smtp_case == "unreachable" else None  # nothing listens there
    lab = make_lab(
        "sqlite",
        tmp_path,
        request,
        dovecot,
        server,
        requests=20,
        codes_per_branch=10,
        smtp_port=port,
    )
    done = lab.cli("run", "--once", f"--now={OPENING}")
    found = lab.invariants()
    assert found.broken() == {}, found
    if smtp_case == "clean":
        assert done.returncode == ExitCode.OK, done.stderr
        assert done.stderr == ""
        assert (found.pending, found.delivered) == (0, 20)
    elif smtp_case == "unreachable":
        assert done.returncode == ExitCode.PHASE_FAILED, done.stderr
        assert "Uwaga: serwer SMTP jest nieosiągalny" in done.stderr
        assert (found.pending, found.delivered) == (20, 0)
    else:
        # The refused replies carried codes: the most urgent of the two codes.
        assert done.returncode == ExitCode.UNDELIVERED_CODES, done.stderr
        assert "niewysłane (błąd): 2." in done.stdout
        assert "Uwaga: serwer SMTP na stałe odrzucił odpowiedzi: 2 " in done.stderr
        assert (found.pending, found.delivered) == (0, 18)
        assert lab.count("SELECT count(*) FROM outbox WHERE status = 'failed'") == 2
        # Refused for good are not tried again: the next pass has nothing to report.
        again = lab.cli("run", "--once", f"--now={OPENING}")
        assert again.returncode == ExitCode.OK, again.stderr
