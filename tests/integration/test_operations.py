"""Running it for real, with the mail lab (Dovecot, an SMTP sink, a database seeded with
readers and 300 requests): SIGTERM in the middle of a pass, a backup taken while a pass
writes, and the restored copy checked."""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from empikgo_mailer.domain.errors import ExitCode
from tests.support.config import write_config
from tests.support.databases import migrated
from tests.support.dovecot import DovecotServer
from tests.support.mail_lab import OPENING, Lab, make_lab
from tests.support.outages import StoppablePostgres, program, wait_until
from tests.support.postgres import PostgresServer
from tests.support.smtp import SmtpServer

REQUESTS = 300


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigterm_mid_pass_stops_within_two_seconds_and_loses_nothing(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = make_lab(backend, tmp_path, request, dovecot, smtp)
    process = lab.spawn("run", "--once", f"--now={OPENING}")
    decided = "SELECT count(*) FROM mail_request WHERE status <> 'queued'"
    lab.wait_for(decided, 20, process)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=30)
    seconds = time.monotonic() - started
    print(f"SIGTERM mid-pass to exit ({backend}): {seconds:.2f} s")
    assert process.returncode == ExitCode.OK, err[-2000:]
    assert seconds < 2.0, f"{seconds:.2f} s from SIGTERM to exit"
    assert "Traceback" not in err
    stopped_at = lab.count(decided)
    assert stopped_at < REQUESTS  # it really stopped half-way
    # Every decision it made has its reply; the next pass does the rest, nothing twice.
    found = lab.invariants()
    assert found.broken() == {}, found
    done = lab.cli("run", "--once", f"--now={OPENING}")
    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    found = lab.invariants()
    assert found.broken() == {} and found.duplicate_deliveries == 0, found
    assert (found.waiting, found.pending, found.delivered) == (0, 0, REQUESTS)


def test_a_backup_taken_during_a_pass_restores_into_a_sound_database(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    # Enough mail that the pass is still running when the backup command has started
    # (300 requests take well under a second since decisions go a batch at a time).
    lab = make_lab("sqlite", tmp_path, request, dovecot, smtp, requests=2000)
    process = lab.spawn("run", "--once", f"--now={OPENING}")
    lab.wait_for("SELECT count(*) FROM mail_request", 50, process)
    backup = tmp_path / "backup.sqlite3"
    taken = lab.cli("backup", str(backup))
    assert process.poll() is None, "the pass ended before the backup: nothing was proven"
    assert taken.returncode == ExitCode.OK, taken.stderr
    assert "integralność: ok" in taken.stdout
    process.communicate(timeout=120)
    assert process.returncode == ExitCode.OK

    # Restore into a new, empty database next to a copy of the configuration.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    restored_db = restored_dir / "empikgo.sqlite3"
    config = restored_dir / "empikgo.toml"
    config.write_text(lab.config.read_text().replace(lab.url, f"sqlite:///{restored_db}"))
    restored = Lab(restored_dir, f"sqlite:///{restored_db}", dovecot, smtp.sink, smtp.port)
    done = restored.cli("restore", str(backup))
    assert done.returncode == ExitCode.OK, done.stderr
    assert "Integralność odtworzonej bazy: ok." in done.stdout
    with sqlite3.connect(restored_db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    shown = restored.cli("status", f"--now={OPENING}")
    assert shown.returncode == ExitCode.OK, shown.stderr
    assert "Pule kodów" in shown.stdout
    # The copy holds what was committed when it was taken: decisions with their replies.
    decided = restored.count("SELECT count(*) FROM mail_request WHERE status = 'decided'")
    replies = restored.count("SELECT count(*) FROM outbox")
    assert replies == decided

    # Restoring over a database that is not empty is refused and changes nothing.
    again = restored.cli("restore", str(backup))
    assert again.returncode == ExitCode.BAD_INPUT
    assert "nie jest pusta" in again.stderr


def test_a_postgresql_backup_restores_into_an_empty_database(
    tmp_path: Path, request: pytest.FixtureRequest, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    lab = make_lab("postgresql", tmp_path, request, dovecot, smtp)
    assert lab.cli("run", "--once", f"--now={OPENING}").returncode == ExitCode.OK
    backup = tmp_path / "backup.pgdump"
    taken = lab.cli("backup", str(backup))
    assert taken.returncode == ExitCode.OK, taken.stderr
    server: PostgresServer = request.getfixturevalue("postgres")
    empty_url = server.create_database(f"empikgo_restored_{uuid.uuid4().hex[:8]}")
    restored_dir = tmp_path / "second"
    restored_dir.mkdir(exist_ok=True)
    restored = Lab(restored_dir, empty_url, dovecot, smtp.sink, smtp.port)
    done = restored.cli("restore", str(backup))
    assert done.returncode == ExitCode.OK, done.stderr
    sql = "SELECT count(*) FROM issuance"
    assert restored.count(sql) == lab.count(sql) == 200
    assert restored.cli("status", f"--now={OPENING}").returncode == ExitCode.OK


@pytest.mark.parametrize("sent_folder", ["Wysłane", ""])
def test_sent_copies_go_to_the_configured_folder_or_nowhere(
    sent_folder: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    dovecot: DovecotServer,
    smtp: SmtpServer,
) -> None:
    lab = make_lab("sqlite", tmp_path, request, dovecot, smtp, requests=10, codes_per_branch=10)
    lab.config.write_text(
        lab.config.read_text().replace("[mail]\n", f'[mail]\nsent_folder = "{sent_folder}"\n')
    )
    done = lab.cli("run", "--once", f"--now={OPENING}")
    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    assert len(smtp.sink.accepted) == 10
    for branch in ("multimedia", "w63"):
        with dovecot.client(branch) as client:
            folders = {name for _flags, _sep, name in client.list_folders()}
            if not sent_folder:
                assert "Sent" not in folders and "Wysłane" not in folders
                continue
            client.select_folder(sent_folder, readonly=True)
            ids = {
                data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].strip()
                for data in client.fetch(
                    client.search(), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
                ).values()
            }
            assert len(ids) == 5  # each branch's five replies, once each
    # A second pass appends nothing again.
    assert lab.cli("run", "--once", f"--now={OPENING}").returncode == ExitCode.OK
    if sent_folder:
        with dovecot.client("multimedia") as client:
            client.select_folder(sent_folder, readonly=True)
            assert len(client.search()) == 5


def test_a_nightly_backup_that_fails_is_tried_again_the_same_night(tmp_path: Path) -> None:
    """The database is down at the backup's hour: the copy is tried again 15 minutes later
    (not the next night), and the service keeps running."""
    server = StoppablePostgres()
    server.start()
    try:
        url = migrated(server.create_database("nightly"))
        config = write_config(tmp_path, url)
        server.halt()
        into, log = tmp_path / "backups", tmp_path / "backup.log"
        # The clock runs 600 times faster: the 15 minutes are 1.5 s.
        process = program(
            config, "-v", "backup", "--into", str(into), "--daily", "10:00",
            "--from", "2026-11-02T09:59:59", "--speed", "600", env={}, log=log,
        )  # fmt: skip
        try:
            said = "Kopia zapasowa nie powiodła się"
            assert wait_until(lambda: said in log.read_text(errors="replace"), 30), log.read_text()
            server.resume()
            assert wait_until(lambda: any(into.glob("empikgo-20261102-*.backup")), 30), (
                log.read_text()
            )
            assert process.poll() is None  # still there for the next night
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == ExitCode.OK
        (copy,) = into.glob("empikgo-*.backup")
        assert copy.name >= "empikgo-20261102-1015"  # the retry, not the failed 10:00
        assert not list(into.glob("*.part"))
    finally:
        server.stop()
