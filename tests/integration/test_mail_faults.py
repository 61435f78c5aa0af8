"""Faults on real servers: `empikgo-mailer run --once` killed with SIGKILL at random
moments, two passes at once, the SQLite lock held by another process while replies go
out, an SMTP server that refuses, hangs, defers or rejects, Dovecot killed mid-pass, and
a UIDVALIDITY reset. After each: no code twice, no reader with two codes, every request
decided once or waiting, every reply delivered at most once (a kill may repeat only the
reply in flight) or still pending, and nothing in the sink that is not in the outbox."""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.rehearsal.ports import free_port
from tests.conftest import fresh_database_url
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import BRANCHES, OPENING, Lab, kill_nine_loop, make_lab
from tests.support.smtp import SilentServer, SmtpServer

REQUESTS = 300
CODES_PER_BRANCH = 100  # 200 codes, 100 "no codes left" replies


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def assert_sound(lab: Lab, *, kills: int = 0) -> None:
    found = lab.invariants()
    assert found.broken() == {}, found
    assert found.duplicate_deliveries <= kills, found


def finish(lab: Lab, now: str = OPENING, expect: int = ExitCode.OK) -> None:
    """A pass that runs to its end, and everything in order after it. `expect`: 6 when a
    server could not be reached (the rest of the pass is done all the same), 8 when
    replies were refused for good."""
    done = lab.cli("run", "--once", f"--now={now}")
    assert done.returncode == expect, done.stderr[-3000:]
    assert "część przebiegu nie powiodła się" not in done.stderr


def test_kill_9_at_random_moments_repeats_at_most_the_reply_in_flight(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = make_lab(backend, tmp_path, request, dovecot, smtp, fetch_batch=40)
    kills = kill_nine_loop(
        lab,
        seed=f"kill-9-{backend}",
        requests=REQUESTS,
        after_each=lambda kills: assert_sound(lab, kills=kills),
    )
    assert kills >= 10
    finish(lab)
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, REQUESTS)
    assert found.duplicate_deliveries <= kills
    assert sum(lab.inbox(branch) for branch in BRANCHES) == 0
    print(f"\n[kill -9] {backend}: {kills} kills, {found.duplicate_deliveries} replies twice")


def test_two_passes_started_together_send_each_reply_once(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = make_lab(backend, tmp_path, request, dovecot, smtp)
    passes = [lab.spawn("run", "--once", f"--now={OPENING}") for _ in range(2)]
    results = [p.communicate(timeout=300) for p in passes]
    # The second waits for the first; if that takes longer than busy_timeout_seconds, it
    # gives up with one line (exit 5) and changes nothing.
    codes = sorted(p.returncode for p in passes)
    assert codes in ([0, 0], [0, 5]), results
    if codes == [0, 5]:
        [(_, line)] = [r for p, r in zip(passes, results, strict=True) if p.returncode == 5]
        assert "inny przebieg" in line and line.strip().count("\n") == 0
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.duplicate_deliveries, found.pending, found.delivered) == (0, 0, REQUESTS)


def test_a_pass_that_cannot_get_the_lock_says_so_in_one_line(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    lab = make_lab("sqlite", tmp_path, request, dovecot, smtp, busy_timeout=0.5)
    path = make_url(lab.url).database
    assert path is not None
    with open(path + ".pass-lock", "a+") as held:  # another pass, as far as anyone can tell
        fcntl.flock(held, fcntl.LOCK_EX)
        refused = lab.cli("run", "--once", f"--now={OPENING}")
    assert refused.returncode == 5
    assert refused.stderr.strip().count("\n") == 0
    assert "inny przebieg" in refused.stderr
    assert lab.invariants().delivered == 0


@pytest.mark.parametrize("hold_seconds", [3.0])
def test_sqlite_held_by_another_process_while_replies_go_out(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
    hold_seconds: float,
) -> None:
    # The lock is held longer than the busy timeout: recording must wait, not give up.
    lab = make_lab("sqlite", tmp_path, request, dovecot, smtp, busy_timeout=1.0)
    path = make_url(lab.url).database
    assert path is not None
    released = threading.Event()

    def hold_the_database() -> None:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        time.sleep(hold_seconds)
        connection.execute("COMMIT")
        connection.close()
        released.set()

    holder = threading.Thread(target=hold_the_database)

    def on_accept(count: int) -> None:
        if count == 100:
            holder.start()

    lab.sink.on_accept = on_accept
    finish(lab)
    holder.join()
    assert released.is_set()
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.duplicate_deliveries, found.pending, found.delivered) == (0, 0, REQUESTS)


def status(lab: Lab, now: str) -> dict[str, object]:
    shown = lab.cli("status", "--json", f"--now={now}")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert isinstance(document, dict)
    return document


def test_smtp_refusing_connections_costs_one_try_not_one_per_reply(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    port = free_port()  # nothing listens there
    lab = make_lab("sqlite", tmp_path, request, dovecot, smtp, smtp_port=port)
    started = time.monotonic()
    finish(lab, expect=ExitCode.UNREACHABLE)
    seconds = time.monotonic() - started
    found = lab.invariants()
    assert (found.waiting, found.pending, found.delivered) == (0, REQUESTS, 0)
    assert seconds < 20, f"a pass with SMTP down took {seconds:.1f} s"
    shown = status(lab, OPENING)
    [smtp_link] = [link for link in shown["links"] if link["link"] == "smtp"]  # type: ignore[attr-defined]
    assert smtp_link["ok"] is False and "Connect" in smtp_link["last_error"]
    assert smtp_link["retry_at"].startswith("2026-11-02T12:01")
    text = lab.cli("status", f"--now={OPENING}").stdout
    assert "serwer poczty wychodzącej (SMTP): NIEDOSTĘPNY" in text
    assert "następna próba 2 listopada 2026, godz. 12:01" in text
    assert "najstarsza od 2 listopada 2026, godz. 12:00" in text

    # Still down within the breaker's pause: the pass only probes it (issue 30).
    finish(lab, "2026-11-02T12:00:30", expect=ExitCode.UNREACHABLE)
    # The server is back on the same port: the next pass finds it answering and sends
    # everything at once, not after the pause (a minute after the first failure).
    back = SmtpServer(port=port).start()
    try:
        lab.sink = back.sink
        finish(lab, "2026-11-02T12:00:40")
        assert len(back.sink.accepted) == REQUESTS
        found = lab.invariants()
        assert (found.pending, found.delivered, found.duplicate_deliveries) == (0, REQUESTS, 0)
    finally:
        back.stop()


def test_a_silent_smtp_server_costs_one_timeout_per_pass(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    silent = SilentServer().start()
    try:
        lab = make_lab(
            "sqlite", tmp_path, request, dovecot, smtp, smtp_port=silent.port, smtp_timeout=2.0
        )
        started = time.monotonic()
        finish(lab, expect=ExitCode.UNREACHABLE)
        seconds = time.monotonic() - started
    finally:
        silent.stop()
    found = lab.invariants()
    assert (found.waiting, found.pending) == (0, REQUESTS)
    assert seconds < 25, f"a pass with a silent SMTP server took {seconds:.1f} s"
    assert "Timeout" in str(status(lab, OPENING)["links"])


def test_deferred_replies_wait_their_turn_and_refused_ones_are_shown(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    lab = make_lab("sqlite", tmp_path, request, dovecot, smtp)
    smtp.sink.script = ["451 4.7.1 Greylisted, try again"] * 5 + ["550 5.1.1 No such user"]
    # A code's reply refused for good: cron sees a reader without their code.
    finish(lab, expect=ExitCode.UNDELIVERED_CODES)
    found = lab.invariants()
    assert (found.pending, found.delivered) == (5, REQUESTS - 6)
    shown = lab.cli("status", f"--now={OPENING}").stdout
    assert "ostatni błąd wysyłki: 451 4.7.1 Greylisted, try again" in shown
    assert "— 550 5.1.1 No such user" in shown
    finish(lab, "2026-11-02T12:00:59")
    assert lab.invariants().delivered == REQUESTS - 6
    finish(lab, "2026-11-02T12:01")
    found = lab.invariants()
    assert (found.pending, found.delivered, found.duplicate_deliveries) == (0, REQUESTS - 1, 0)
    assert found.broken() == {}


def test_dovecot_killed_mid_pass_loses_and_repeats_nothing(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = make_lab(backend, tmp_path, request, dovecot, smtp, fetch_batch=20)
    engine = create_engine(lab.url)

    def count(sql: str) -> int:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar() or 0)

    # Killed while the first mailbox is being read, while the second is, and once the
    # decisions (and so the filing) have begun.
    rows, decided = (
        "SELECT count(*) FROM mail_request",
        ("SELECT count(*) FROM mail_request WHERE status <> 'queued'"),
    )
    for sql, threshold in ((rows, 20), (rows, REQUESTS // 2 + 20), (decided, 1)):
        before = count(sql) if sql == rows else 0
        process = lab.spawn("run", "--once", f"--now={OPENING}")
        deadline = time.monotonic() + 60
        while count(sql) < before + threshold and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        dovecot.halt(kill=True)
        _out, err = process.communicate(timeout=120)
        # 6 exactly when the pass still had the mailbox to read or file (and said so);
        # a pass that had finished with Dovecot before the kill ends with 0.
        assert process.returncode in {ExitCode.OK, ExitCode.UNREACHABLE}, err[-3000:]
        assert (process.returncode == ExitCode.UNREACHABLE) == ("nieosiągalna" in err), err
        assert "Traceback" not in err
        assert_sound(lab)
        dovecot.start()
    engine.dispose()
    finish(lab)
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, REQUESTS)
    assert found.duplicate_deliveries == 0
    assert sum(lab.inbox(branch) for branch in BRANCHES) == 0


@pytest.fixture
def small_lab(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> Lab:
    url = fresh_database_url("sqlite", tmp_path, request)
    lab = Lab(tmp_path, url, dovecot, smtp.sink, smtp.port)
    lab.seed(40, 20)
    return lab


def test_after_a_uidvalidity_reset_every_request_is_filed_and_answered_once(
    small_lab: Lab, dovecot: DovecotServer
) -> None:
    lab = small_lab
    lab.deliver(range(20), message_id=True)
    lab.deliver(range(20, 40), message_id=False)
    finish(lab, "2026-11-02T09:59")  # both branches closed: queued, not decided
    assert lab.invariants().waiting == 40
    for branch in BRANCHES:
        dovecot.renumber(branch)
    finish(lab)
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, 40)
    assert found.duplicate_deliveries == 0
    assert [lab.inbox(branch) for branch in BRANCHES] == [0, 0]
