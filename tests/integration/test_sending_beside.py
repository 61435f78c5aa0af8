"""Replies sent from a second process while the pass decides (`[smtp]
send_while_deciding_from`), on real servers: the burst goes out while it is being
decided; the pass or its sender killed with SIGKILL at random moments; SIGTERM; and the
sender's journal on SQLite read back after a crash. After each: no code twice, every
reply delivered at most once (a kill may repeat only the reply in flight) or pending."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.outbox import Answer, Outbox, Result
from empikgo_mailer.adapters.sent_journal import journal_path
from empikgo_mailer.domain.errors import ExitCode
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import OPENING, Lab, kill_nine_loop, make_lab
from tests.support.smtp import SmtpServer

REQUESTS = 300
WARSAW = ZoneInfo("Europe/Warsaw")
DECIDED = "SELECT count(*) FROM mail_request WHERE status <> 'queued'"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def send_beside(lab: Lab, from_requests: int = 50) -> Lab:
    """The lab's passes send from a second process once `from_requests` are queued."""
    config = lab.config.read_text(encoding="utf-8")
    lab.config.write_text(
        config.replace("[smtp]\n", f"[smtp]\nsend_while_deciding_from = {from_requests}\n", 1),
        encoding="utf-8",
    )
    return lab


def finish(lab: Lab) -> None:
    done = lab.cli("run", "--once", f"--now={OPENING}")
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    assert "część przebiegu nie powiodła się" not in done.stderr


def assert_all_sent_once(lab: Lab, *, repeats_allowed: int = 0) -> None:
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, REQUESTS), found
    assert found.duplicate_deliveries <= repeats_allowed, found


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    return [int(child) for child in text.split()]


def test_a_burst_goes_out_while_it_is_still_being_decided(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    requests = 2000  # deciding takes long enough to be seen overlapping
    lab = send_beside(make_lab(backend, tmp_path, request, dovecot, smtp, requests=requests))
    decided_at_first_reply: list[int] = []
    collected_at_first_reply: list[int] = []

    def on_accept(count: int) -> None:
        if count == 1:
            decided_at_first_reply.append(lab.count(DECIDED))
            collected_at_first_reply.append(lab.count("SELECT count(*) FROM mail_request"))

    lab.sink.on_accept = on_accept
    done = lab.cli("run", "--once", f"--now={OPENING}")
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    assert "wysłane odpowiedzi: 2000" in done.stdout
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, requests)
    assert found.duplicate_deliveries == 0
    # The first reply left while most of the queue was still waiting for its decision.
    assert decided_at_first_reply and decided_at_first_reply[0] < requests // 2
    # ... and while the first branch's mailbox (half of them) was still being read.
    assert collected_at_first_reply and collected_at_first_reply[0] < requests // 2
    # Each copy in Sent once, every result in the database (the journal emptied).
    assert lab.count("SELECT count(*) FROM outbox WHERE copied_at IS NULL") == 0
    assert lab.count("SELECT count(*) FROM outbox WHERE lease_owner IS NOT NULL") == 0


def test_deciding_while_the_mailbox_is_read_keeps_receipt_order(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    """The queue is decided between fetch batches, but never past a message still to be
    read: two requests that came first (at midnight) sit last in their mailboxes (the
    highest UIDs, as mail moved back into the inbox does) and still get codes first."""
    lab = send_beside(
        make_lab(
            backend,
            tmp_path,
            request,
            dovecot,
            smtp,
            requests=0,
            codes_per_branch=40,
            fetch_batch=20,
        )
    )
    lab.seed(202, 0)
    lab.deliver(range(200))  # at 00:00:01
    lab.deliver(range(200, 202), at=datetime(2026, 11, 1, 0, 0, tzinfo=WARSAW))
    finish(lab)
    engine = create_engine(lab.url)
    try:
        with engine.connect() as connection:
            given = {
                (str(branch), int(card) - 9_000_000)
                for branch, card in connection.execute(
                    text(
                        "SELECT i.branch_id, p.card_number FROM issuance i"
                        " JOIN patron p ON p.id = i.patron_id"
                    )
                )
            }
    finally:
        engine.dispose()
    # Each branch's 40 codes: the midnight request, then the first 39 in mailbox order.
    assert given == {("multimedia", 200), *(("multimedia", n) for n in range(0, 78, 2))} | {
        ("w63", 201),
        *(("w63", n) for n in range(1, 79, 2)),
    }
    found = lab.invariants()
    assert found.broken() == {}, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, 202), found


def test_kill_9_of_the_pass_while_its_sender_sends_repeats_at_most_the_reply_in_flight(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = send_beside(make_lab(backend, tmp_path, request, dovecot, smtp, fetch_batch=40))
    kills = kill_nine_loop(
        lab,
        seed=f"beside-kill-9-{backend}",
        requests=REQUESTS,
        after_each=lambda kills: assert_sound_after(lab, kills),
    )
    assert kills >= 10
    finish(lab)
    assert_all_sent_once(lab, repeats_allowed=kills)
    print(f"\n[kill -9 beside] {backend}: {kills} kills, {lab.invariants().duplicate_deliveries}")


def assert_sound_after(lab: Lab, kills: int) -> None:
    found = lab.invariants()
    assert found.broken() == {}, found
    assert found.duplicate_deliveries <= kills, found


def test_kill_9_of_the_sender_is_reported_and_the_pass_sends_the_rest_itself(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = send_beside(make_lab(backend, tmp_path, request, dovecot, smtp))
    process = lab.spawn("run", "--once", f"--now={OPENING}")
    target = random.Random(backend).randint(20, 120)  # noqa: S311 (a reproducible moment)
    killed: list[int] = []

    def kill_the_sender(count: int) -> None:
        if count >= target and not killed:
            [sender] = children(process.pid)
            os.kill(sender, signal.SIGKILL)
            killed.append(sender)

    lab.sink.on_accept = kill_the_sender
    _out, err = process.communicate(timeout=300)
    lab.sink.on_accept = None
    assert killed, "the pass ended before its sender was killed: nothing was proven"
    # The pass says what failed, takes over the dead sender's journal and leases, and
    # sends the rest itself: only the reply in flight may reach a reader twice.
    assert process.returncode == ExitCode.OK, err[-3000:]
    assert "część przebiegu nie powiodła się — send: SenderFailed" in err
    assert_all_sent_once(lab, repeats_allowed=1)
    assert lab.count("SELECT count(*) FROM outbox WHERE lease_owner IS NOT NULL") == 0


def test_sigterm_stops_the_pass_and_its_sender_within_two_seconds(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = send_beside(make_lab(backend, tmp_path, request, dovecot, smtp))
    process = lab.spawn("run", "--once", f"--now={OPENING}")
    signalled: list[float] = []

    def stop_the_pass(_count: int) -> None:
        # With a reply in flight (the server answers it after this): the pass is surely
        # mid-way, however fast this machine decides and sends. The server holds that
        # reply half a second first, as a slow relay does, so that the decisions run
        # ahead of the sender and it has replies in hand when the signal comes.
        if not signalled:
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            signalled.append(time.monotonic())

    lab.sink.on_accept = stop_the_pass
    _out, err = process.communicate(timeout=30)  # returns when the sender, too, has ended
    lab.sink.on_accept = None
    assert signalled, "no reply reached the server: nothing was proven"
    seconds = time.monotonic() - signalled[0]
    print(f"SIGTERM to exit, sending beside ({backend}): {seconds:.2f} s")
    assert process.returncode == ExitCode.OK, err[-2000:]
    assert seconds < 2.0, f"{seconds:.2f} s from SIGTERM to exit"
    assert "Traceback" not in err
    found = lab.invariants()
    assert found.broken() == {} and found.duplicate_deliveries == 0, found
    assert found.pending > 0  # it really stopped half-way
    finish(lab)
    assert_all_sent_once(lab)


def test_replies_in_the_journal_of_a_sender_that_died_are_not_sent_again(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    # A pass collects and decides only (SMTP unreachable), leaving 300 pending replies.
    lab = make_lab("sqlite", tmp_path, request, dovecot, smtp, smtp_port=1)
    assert lab.cli("run", "--once", f"--now={OPENING}").returncode == ExitCode.UNREACHABLE
    db = Database(lab.url)
    path = journal_path(db)
    assert path is not None
    now = datetime.fromisoformat(OPENING).replace(tzinfo=WARSAW) + timedelta(minutes=5)
    try:
        # A sender claims 10, sends 4 (in its journal), and dies before the outbox hears.
        dead = Outbox(db, "pass-that-died")
        claimed = dead.claim(now, 10)
        dead.record([Result(reply.id, Answer.SENT, now) for reply in claimed[:4]])
        assert dead._journal is not None
        dead._journal.close()  # killed: nothing applied, nothing given back
        assert path.exists()
        with db.engine.connect() as connection:
            leased = connection.execute(
                text("SELECT count(*) FROM outbox WHERE lease_owner = 'pass-that-died'")
            ).scalar()
        assert leased == 10

        # A backup taken now knows the 4 as sent: a restore will not send them again.
        backup = tmp_path / "now.backup"
        assert lab.cli("backup", str(backup)).returncode == ExitCode.OK
        with sqlite3.connect(backup) as copy:
            in_the_copy = {
                row[0] for row in copy.execute("SELECT id FROM outbox WHERE status = 'sent'")
            }
        assert in_the_copy == {reply.id for reply in claimed[:4]}

        # The next sender reads the journal before it takes back the dead one's leases.
        with Outbox(db, "next-pass") as outbox:
            assert outbox.take_back_leases() == 6
            again = {reply.id for reply in outbox.claim(now, 1000)}
            outbox.release_mine()
        sent_by_the_dead = {reply.id for reply in claimed[:4]}
        assert not sent_by_the_dead & again
        assert {reply.id for reply in claimed[4:]} <= again
        with db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, status, sent_at FROM outbox WHERE status = 'sent'")
            ).all()
        assert {row.id for row in rows} == sent_by_the_dead
    finally:
        db.dispose()
